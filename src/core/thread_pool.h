#pragma once
// A fixed pool of worker threads with one primitive: parallel_for over [0, n).
// The calling thread takes part, so a pool of 1 runs inline with no handoff cost. Idle workers
// spin briefly before sleeping, so back-to-back calls (a decode step's dense layers) hand off in
// well under a microsecond. Work items are
// claimed through one atomic counter (dynamic scheduling): decode work items differ in cost by
// sequence length, and static chunking would leave threads idle behind the longest one.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pagedkv {

class ThreadPool {
 public:
  explicit ThreadPool(size_t num_threads = std::thread::hardware_concurrency());
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t num_threads() const { return workers_.size() + 1; }

  // Calls fn(i) once for every i in [0, n); returns when all calls are done. The first exception
  // thrown by fn is rethrown here (the other items still run). Not reentrant.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn);

  // A process-wide pool for callers that do not manage their own: set_global_threads(n) if called
  // before its first use, else $PAGEDKV_NUM_THREADS, else the machine's hardware threads.
  static ThreadPool& global();
  static void set_global_threads(size_t n);

 private:
  void worker_loop();
  void run_items();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_, done_cv_;
  // Written by parallel_for before generation_ is bumped (release), read by workers after they
  // see the new generation (acquire).
  const std::function<void(size_t)>* job_ = nullptr;
  size_t job_size_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<size_t> busy_{0};  // workers still running the current job
  std::atomic<bool> stop_flag_{false};
  std::atomic<size_t> next_{0};
  std::exception_ptr error_;
};

}  // namespace pagedkv
