#include "server/bounded_task_queue.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

namespace pagedkv {

namespace {

// Hands the pages of this thread's stack below the current frame back to the OS. A connection's
// handler runs deep (JSON parsing, chat template rendering) and touches pages that would otherwise
// stay resident for the life of the worker. One madvise per connection; the next connection
// faults in what it uses.
void release_unused_stack() {
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return;
  void* addr = nullptr;
  size_t size = 0;
  const bool ok = pthread_attr_getstack(&attr, &addr, &size) == 0;
  pthread_attr_destroy(&attr);
  if (!ok) return;
  const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
  char here = 0;
  const uintptr_t low = (uintptr_t(addr) + page - 1) & ~(page - 1);
  // Keep 8 KiB below this frame for the calls still to come (madvise itself, the loop).
  const uintptr_t end = (uintptr_t(&here) - 8192) & ~(page - 1);
  if (end > low) madvise(reinterpret_cast<void*>(low), end - low, MADV_DONTNEED);
}

}  // namespace

BoundedTaskQueue::BoundedTaskQueue(size_t threads, size_t max_pending) : max_pending_(max_pending) {
  for (size_t i = 0; i < threads; ++i) workers_.push_back(std::make_unique<Worker>());
  for (size_t i = 0; i < threads; ++i)
    threads_.emplace_back([this, w = workers_[i].get()] { work(*w); });
}

BoundedTaskQueue::~BoundedTaskQueue() { shutdown(); }

void BoundedTaskQueue::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mu_);
  has_room_.wait(lock,
                 [&] { return !idle_.empty() || pending_.size() < max_pending_ || shutdown_; });
  if (!idle_.empty()) {
    Worker* w = idle_.back();  // the most recently idle: its stack and caches are warm
    idle_.pop_back();
    w->job = std::move(fn);
    w->wake.notify_one();
    return;
  }
  pending_.push_back(std::move(fn));  // pending: no worker is idle (a freed one takes it first)
}

void BoundedTaskQueue::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return;
    shutdown_ = true;
    for (const auto& w : workers_) w->wake.notify_one();
  }
  has_room_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void BoundedTaskQueue::work(Worker& self) {
  for (;;) {
    std::function<void()> fn;
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (!pending_.empty()) {
        fn = std::move(pending_.front());
        pending_.pop_front();
        has_room_.notify_one();
      } else {
        if (shutdown_) return;
        idle_.push_back(&self);
        has_room_.notify_one();  // a blocked enqueue() can hand its job to this worker
        self.wake.wait(lock, [&] { return self.job || shutdown_; });
        if (!self.job) {  // shutting down while idle
          idle_.erase(std::find(idle_.begin(), idle_.end(), &self));
          return;
        }
        fn = std::move(self.job);
        self.job = nullptr;
      }
    }
    fn();  // serves one connection (keep-alive requests included) and closes it
    release_unused_stack();
  }
}

}  // namespace pagedkv
