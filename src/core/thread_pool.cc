#include "core/thread_pool.h"

#include <chrono>
#include <cstdlib>

namespace pagedkv {

ThreadPool::ThreadPool(size_t num_threads) {
  if (num_threads == 0) num_threads = 1;
  for (size_t i = 1; i < num_threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_flag_.store(true, std::memory_order_release);
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

namespace {
std::atomic<size_t> g_global_threads{0};  // 0: PAGEDKV_NUM_THREADS, else the machine's cores
}  // namespace

void ThreadPool::set_global_threads(size_t n) { g_global_threads.store(n); }

ThreadPool& ThreadPool::global() {
  static ThreadPool pool([] {
    if (size_t n = g_global_threads.load()) return n;
    if (const char* env = std::getenv("PAGEDKV_NUM_THREADS")) {
      const long n = std::strtol(env, nullptr, 10);
      if (n > 0) return size_t(n);
    }
    return size_t(std::thread::hardware_concurrency());
  }());
  return pool;
}

void ThreadPool::run_items() {
  for (size_t i = next_.fetch_add(1); i < job_size_; i = next_.fetch_add(1)) {
    try {
      (*job_)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
  }
}

namespace {

// Spin this long for the next job before sleeping on the condition variable. Decode calls the
// pool a few hundred times per token (every dense layer), microseconds apart: a futex wake-up per
// call (tens of microseconds) would cost more than the work. The spin is bounded, so an idle pool
// sleeps.
constexpr auto kSpin = std::chrono::microseconds(300);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins until pred() holds or kSpin has passed; true if it held.
template <typename Pred>
bool spin_until(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (pred()) return true;
    cpu_relax();
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > deadline) return pred();
  }
}

}  // namespace

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    auto ready = [&] {
      return stop_flag_.load(std::memory_order_acquire) ||
             generation_.load(std::memory_order_acquire) != seen;
    };
    if (!spin_until(ready)) {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, ready);
    }
    if (stop_flag_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    run_items();
    if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);  // pairs with the caller's predicate check
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  if (workers_.empty() || n == 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  job_ = &fn;
  job_size_ = n;
  next_.store(0);
  error_ = nullptr;
  busy_.store(workers_.size(), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);  // a worker about to sleep sees the new generation
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  run_items();
  auto done = [&] { return busy_.load(std::memory_order_acquire) == 0; };
  if (!spin_until(done)) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, done);
  }
  job_ = nullptr;
  std::exception_ptr error = error_;
  if (error) std::rethrow_exception(error);
}

}  // namespace pagedkv
