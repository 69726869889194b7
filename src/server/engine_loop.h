#pragma once
// The engine on its own thread. The Engine is not thread-safe; this thread is the only one that
// touches it. HTTP handler threads hand it commands through a locked queue (submit, cancel) and
// read what it produces from their RequestChannel. The loop:
//
//   wait on the condition variable until there is a command or unfinished work;
//   drain the commands: add requests (answering kAccepted / kRejected), abort cancelled ones;
//   one Engine::step() — its listener pushes each sample's delta to the owner's channel, and
//   every finished request goes out as kFinished;
//   publish the engine's metrics; when the engine has just gone idle, hand freed heap back to the
//   OS (malloc_trim), so the server's memory returns to its idle level after a burst.
//
// Bounded: at most max_requests engine requests (one per prompt) are in the server at once,
// queued or running; submit() refuses more (the HTTP side answers 503). Commands therefore never
// pile up beyond that bound plus one cancel per open connection.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/engine.h"
#include "server/request_channel.h"
#include "server/server_metrics.h"

namespace pagedkv {

class EngineLoop {
 public:
  // Starts the thread. The engine and metrics must outlive the loop; the engine must not be used
  // by anyone else meanwhile (the loop sets its listener).
  EngineLoop(Engine& engine, ServerMetrics& metrics, int64_t max_requests);
  ~EngineLoop();  // stop()

  // Any thread. Queues the prompts (one engine request each, params[i] for prompts[i]); events
  // come on `channel`, kDelta ones only when `deltas` (a streamed response: a whole one needs
  // only the final outputs, and its deltas would be copied for nothing). False, with nothing
  // queued, when the server already holds max_requests requests or is stopping.
  bool submit(std::shared_ptr<RequestChannel> channel, std::vector<std::vector<int32_t>> prompts,
              std::vector<SamplingParams> params, bool deltas);
  // Any thread. Aborts whatever of the channel's requests has not finished: its blocks go back
  // to the pool at the engine thread's next turn (before its next step). Idempotent.
  void cancel(const std::shared_ptr<RequestChannel>& channel);
  // Aborts everything in flight (kFailed "server shutting down") and joins the thread.
  void stop();

  // Engine requests in the server now (queued or in the engine).
  int64_t in_flight() const { return in_flight_.load(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Command {
    bool cancel = false;
    std::shared_ptr<RequestChannel> channel;
    std::vector<std::vector<int32_t>> prompts;
    std::vector<SamplingParams> params;
    bool deltas = true;
    Clock::time_point arrival;
  };
  // An engine request the loop answers for.
  struct Tracked {
    std::shared_ptr<RequestChannel> channel;
    int32_t prompt = 0;
    bool deltas = true;
    Clock::time_point arrival;
    bool first_token = false;
    std::vector<Clock::time_point> last_token;  // [n]; epoch: no token yet
  };

  void run();
  void add(Command& c);
  void abort_channel(RequestChannel* channel);
  void on_delta(const OutputDelta& d);
  void finish(RequestOutput out);
  void fail_all(const std::string& message);

  Engine& engine_;
  ServerMetrics& metrics_;
  const int64_t max_requests_;
  std::atomic<int64_t> in_flight_{0};

  std::mutex mu_;  // guards commands_, queued_prompts_, stopping_
  std::condition_variable cv_;
  std::deque<Command> commands_;
  int64_t queued_prompts_ = 0;
  bool stopping_ = false;

  // Engine thread only.
  std::unordered_map<RequestId, Tracked> tracked_;
  std::unordered_map<RequestChannel*, std::vector<RequestId>> by_channel_;

  std::thread thread_;  // last: started once everything above exists
};

}  // namespace pagedkv
