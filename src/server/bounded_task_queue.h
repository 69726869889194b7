#pragma once
// cpp-httplib's connection task queue, bounded. httplib's own ThreadPool keeps every accepted
// connection it cannot serve yet in an unbounded list; this one has a fixed set of worker
// threads (each serves one connection at a time, a streamed response included) and at most
// max_pending accepted connections waiting for a worker. When that is full, enqueue() blocks
// httplib's accept loop, so further clients wait in the kernel's listen backlog, not in our
// memory. The server sizes the workers above its request bound (--max-queued), so that an
// overloaded server still has a worker to answer 503 with.

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace pagedkv {

class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  BoundedTaskQueue(size_t threads, size_t max_pending);
  ~BoundedTaskQueue() override;

  void enqueue(std::function<void()> fn) override;
  // Runs what is queued, then joins the workers.
  void shutdown() override;

 private:
  void work();

  const size_t max_pending_;
  std::mutex mu_;
  std::condition_variable has_job_, has_room_;
  std::deque<std::function<void()>> jobs_;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace pagedkv
