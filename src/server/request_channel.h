#pragma once
// What the engine thread tells one HTTP request's handler: a mutex + condition variable + queue
// of events, written by the engine thread and read by the handler's thread. One channel per HTTP
// request (a batch of prompts shares it). Its memory is bounded by the request itself: at most
// one delta per generated token plus one final output per prompt.
//
// Order: kAccepted (every prompt is in the engine) or kRejected (none is: the engine refused the
// request, e.g. it cannot fit the empty KV pool) first; then, per prompt, kDelta events and one
// kFinished with the whole output. kFailed ends everything (an engine failure, or shutdown).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "engine/output_processor.h"
#include "engine/request.h"

namespace pagedkv {

struct ChannelEvent {
  enum class Kind { kAccepted, kRejected, kDelta, kFinished, kFailed };
  Kind kind = Kind::kDelta;
  int32_t prompt = 0;    // kDelta, kFinished: which prompt of the HTTP request
  OutputDelta delta;     // kDelta
  RequestOutput output;  // kFinished
  std::string error;     // kRejected, kFailed
};

class RequestChannel {
 public:
  void push(ChannelEvent e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(std::move(e));
    }
    cv_.notify_one();
  }

  // Moves every queued event to the end of `out`, waiting up to `timeout` for one to arrive.
  // Returns whether any was moved.
  bool wait(std::vector<ChannelEvent>& out, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return false;
    for (ChannelEvent& e : events_) out.push_back(std::move(e));
    events_.clear();
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ChannelEvent> events_;
};

}  // namespace pagedkv
