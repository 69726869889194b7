#include "server/engine_loop.h"

#include <algorithm>
#include <cstdio>

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "server/api_error.h"

namespace pagedkv {

namespace {

// One reason per request for the finished counter: abort wins, then length, else stop.
const char* request_finish_reason(const RequestOutput& o) {
  bool length = false;
  for (const SampleOutput& s : o.samples) {
    if (s.finish == FinishReason::kAbort || s.finish == FinishReason::kNone) return "abort";
    length |= s.finish == FinishReason::kLength;
  }
  return length ? "length" : "stop";
}

// Freed heap back to the OS. glibc keeps freed chunks in its arenas (up to 8 per core, shared by
// the HTTP threads); malloc_trim(0) walks them all and returns their free pages. It costs about a
// millisecond on a small heap, so it runs only once the engine has been idle for kTrimDelay: by
// then the HTTP threads have written and freed the last responses too.
constexpr std::chrono::milliseconds kTrimDelay{300};

void release_free_heap() {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

}  // namespace

EngineLoop::EngineLoop(Engine& engine, ServerMetrics& metrics, int64_t max_requests)
    : engine_(engine), metrics_(metrics), max_requests_(max_requests) {
  engine_.set_listener([this](const OutputDelta& d) { on_delta(d); });
  metrics_.set_engine(engine_.metrics(), 0);
  thread_ = std::thread([this] { run(); });
}

EngineLoop::~EngineLoop() { stop(); }

bool EngineLoop::submit(std::shared_ptr<RequestChannel> channel,
                        std::vector<std::vector<int32_t>> prompts,
                        std::vector<SamplingParams> params, bool deltas) {
  const int64_t k = int64_t(prompts.size());
  int64_t cur = in_flight_.load();
  do {
    if (cur + k > max_requests_) return false;
  } while (!in_flight_.compare_exchange_weak(cur, cur + k));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      in_flight_ -= k;
      return false;
    }
    commands_.push_back(
        {false, std::move(channel), std::move(prompts), std::move(params), deltas, Clock::now()});
    queued_prompts_ += k;
  }
  cv_.notify_one();
  return true;
}

void EngineLoop::cancel(const std::shared_ptr<RequestChannel>& channel) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    commands_.push_back({true, channel, {}, {}, false, Clock::now()});
  }
  cv_.notify_one();
}

void EngineLoop::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void EngineLoop::run() {
  bool busy = false, trim_pending = false;
  for (;;) {
    std::deque<Command> commands;
    {
      std::unique_lock<std::mutex> lock(mu_);
      const auto ready = [&] {
        return stopping_ || !commands_.empty() || engine_.has_unfinished();
      };
      if (trim_pending) {
        // Idle for kTrimDelay with nothing new: the handlers have freed their responses by now.
        if (!cv_.wait_for(lock, kTrimDelay, ready)) {
          trim_pending = false;
          lock.unlock();
          release_free_heap();
          continue;
        }
      } else {
        cv_.wait(lock, ready);
      }
      if (stopping_) break;
      commands.swap(commands_);
      queued_prompts_ = 0;  // from here on they count in the engine's own waiting requests
    }
    for (Command& c : commands) {
      if (c.cancel) {
        abort_channel(c.channel.get());
      } else {
        add(c);
      }
    }
    if (engine_.has_unfinished()) {
      busy = true;
      try {
        for (RequestOutput& o : engine_.step()) finish(std::move(o));
      } catch (const std::exception& e) {
        std::fprintf(stderr, "pagedkv serve: engine step failed: %s\n", e.what());
        fail_all(std::string("engine failure: ") + e.what());
      }
    }
    int64_t waiting_commands = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      waiting_commands = queued_prompts_;
    }
    metrics_.set_engine(engine_.metrics(), waiting_commands);
    if (busy && !engine_.has_unfinished()) {
      busy = false;
      trim_pending = true;
    }
  }
  fail_all("the server is shutting down");
  metrics_.set_engine(engine_.metrics(), 0);
}

void EngineLoop::add(Command& c) {
  std::vector<RequestId> ids;
  std::vector<int64_t> lengths;
  for (const auto& p : c.prompts) lengths.push_back(int64_t(p.size()));
  try {
    for (size_t i = 0; i < c.prompts.size(); ++i)
      ids.push_back(engine_.add_request(std::move(c.prompts[i]), c.params[i]));
  } catch (const Error& e) {
    // All or nothing: the HTTP request is refused whole. The requests already added have not run
    // (no step in between): aborting them leaves the engine as it was.
    for (RequestId id : ids) engine_.abort(id);
    in_flight_ -= int64_t(c.prompts.size());
    ChannelEvent ev;
    ev.kind = ChannelEvent::Kind::kRejected;
    ev.error = client_message(e);
    c.channel->push(std::move(ev));
    return;
  }
  std::vector<RequestId>& mine = by_channel_[c.channel.get()];
  for (size_t i = 0; i < ids.size(); ++i) {
    Tracked& t = tracked_[ids[i]];
    t.channel = c.channel;
    t.prompt = int32_t(i);
    t.deltas = c.deltas;
    t.arrival = c.arrival;
    t.last_token.assign(size_t(c.params[i].n), Clock::time_point{});
    mine.push_back(ids[i]);
    metrics_.add_prompt_tokens(lengths[i]);
  }
  ChannelEvent ev;
  ev.kind = ChannelEvent::Kind::kAccepted;
  c.channel->push(std::move(ev));
}

void EngineLoop::abort_channel(RequestChannel* channel) {
  const auto it = by_channel_.find(channel);
  if (it == by_channel_.end()) return;
  const std::vector<RequestId> ids = it->second;  // finish() edits the map
  for (RequestId id : ids)
    if (std::optional<RequestOutput> out = engine_.abort(id)) finish(std::move(*out));
}

void EngineLoop::on_delta(const OutputDelta& d) {
  const auto it = tracked_.find(d.request);
  if (it == tracked_.end()) return;  // a request being rolled back in add()
  Tracked& t = it->second;
  if (!d.tokens.empty()) {
    const Clock::time_point now = Clock::now();
    metrics_.add_generation_tokens(int64_t(d.tokens.size()));
    if (!t.first_token) {
      t.first_token = true;
      metrics_.observe_time_to_first_token(std::chrono::duration<double>(now - t.arrival).count());
    }
    Clock::time_point& last = t.last_token.at(size_t(d.sample));
    if (last != Clock::time_point{})
      metrics_.observe_time_per_output_token(std::chrono::duration<double>(now - last).count());
    last = now;
  }
  if (!t.deltas) return;
  ChannelEvent ev;
  ev.kind = ChannelEvent::Kind::kDelta;
  ev.prompt = t.prompt;
  ev.delta = d;
  t.channel->push(std::move(ev));
}

void EngineLoop::finish(RequestOutput out) {
  const auto it = tracked_.find(out.id);
  if (it == tracked_.end()) return;
  Tracked t = std::move(it->second);
  tracked_.erase(it);
  auto& mine = by_channel_[t.channel.get()];
  mine.erase(std::remove(mine.begin(), mine.end(), out.id), mine.end());
  if (mine.empty()) by_channel_.erase(t.channel.get());
  metrics_.observe_request_latency(std::chrono::duration<double>(Clock::now() - t.arrival).count());
  metrics_.count_finished(request_finish_reason(out));
  --in_flight_;
  ChannelEvent ev;
  ev.kind = ChannelEvent::Kind::kFinished;
  ev.prompt = t.prompt;
  ev.output = std::move(out);
  t.channel->push(std::move(ev));
}

void EngineLoop::fail_all(const std::string& message) {
  // Commands not yet taken: their channels learn it too.
  std::deque<Command> commands;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) commands.swap(commands_);
  }
  for (Command& c : commands) {
    if (c.cancel) continue;
    in_flight_ -= int64_t(c.prompts.size());
    ChannelEvent ev;
    ev.kind = ChannelEvent::Kind::kFailed;
    ev.error = message;
    c.channel->push(std::move(ev));
  }
  std::unordered_map<RequestId, Tracked> tracked;
  tracked.swap(tracked_);
  by_channel_.clear();
  for (auto& [id, t] : tracked) {
    try {
      engine_.abort(id);
    } catch (const std::exception&) {  // the engine failed already; its pool is what it is
    }
    metrics_.count_finished("error");
    --in_flight_;
    ChannelEvent ev;
    ev.kind = ChannelEvent::Kind::kFailed;
    ev.error = message;
    t.channel->push(std::move(ev));
  }
}

}  // namespace pagedkv
