#pragma once
// cpp-httplib's connection task queue, bounded. httplib's own ThreadPool keeps every accepted
// connection it cannot serve yet in an unbounded list; this one has a fixed set of worker
// threads (each serves one connection at a time, a streamed response included) and at most
// max_pending accepted connections waiting for a worker. When that is full, enqueue() blocks
// httplib's accept loop, so further clients wait in the kernel's listen backlog, not in our
// memory. The server sizes the workers above its request bound (--max-queued), so that an
// overloaded server still has a worker to answer 503 with.
//
// Idle workers are handed work last-in first-out: the worker that finished most recently takes the
// next connection. A burst of C concurrent connections therefore runs on the same C workers every
// time, and only those ever hold per-thread memory (glibc's thread cache, touched stack pages);
// with a FIFO hand-off every one of the hundreds of workers would, in turn. After each connection
// a worker also gives back the stack pages its handler touched (madvise).

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
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
  struct Worker {
    std::condition_variable wake;
    std::function<void()> job;  // handed over by enqueue() while the worker is idle
  };
  void work(Worker& self);

  const size_t max_pending_;
  std::mutex mu_;
  std::condition_variable has_room_;
  std::deque<std::function<void()>> pending_;  // jobs no idle worker could take
  std::vector<Worker*> idle_;                  // a stack: the most recently idle last
  bool shutdown_ = false;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
};

}  // namespace pagedkv
