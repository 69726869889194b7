#include "server/generation_handler.h"

#include <chrono>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/json_depth.h"
#include "server/connection_watch.h"
#include "server/responses.h"
#include "server/stream_formatter.h"

namespace pagedkv {

namespace {

// How long a handler waits on its channel before it looks at its connection again: a client
// that leaves is noticed within this (plus one engine step before its blocks are free).
constexpr std::chrono::milliseconds kSlice{50};

// One generation request after submission: shared by the handler and, when streaming, by the
// content provider that runs after the handler has returned.
struct Exchange {
  Exchange(std::shared_ptr<RequestChannel> ch, EngineLoop& loop, const httplib::Request& req,
           size_t num_prompts)
      : channel(std::move(ch)),
        loop(loop),
        watch(req.local_addr, req.local_port, req.remote_addr, req.remote_port),
        outputs(num_prompts) {}

  void cancel() {
    if (cancelled) return;
    cancelled = true;
    loop.cancel(channel);
  }
  // Takes the events in `pending`: outputs are kept, deltas handed to `on_delta`. Returns the
  // error of a kFailed event, if any.
  template <typename OnDelta>
  std::optional<std::string> take(OnDelta&& on_delta) {
    std::optional<std::string> failure;
    for (ChannelEvent& e : pending) {
      if (e.kind == ChannelEvent::Kind::kDelta) {
        on_delta(e);
      } else if (e.kind == ChannelEvent::Kind::kFinished) {
        outputs.at(size_t(e.prompt)) = std::move(e.output);
        ++finished;
      } else if (e.kind == ChannelEvent::Kind::kFailed) {
        failure = e.error;
      }
    }
    pending.clear();
    return failure;
  }
  bool done() const { return finished == outputs.size(); }

  std::shared_ptr<RequestChannel> channel;
  EngineLoop& loop;
  ConnectionWatch watch;
  std::vector<ChannelEvent> pending;   // received, not handled yet
  std::vector<RequestOutput> outputs;  // [prompts]
  size_t finished = 0;
  bool cancelled = false;
};

ApiError engine_failure(const std::string& message) {
  return ApiError(500, "server_error", "", message);
}

// Until the engine thread has taken the request (true), refused it (ApiError), or the client
// has gone (false, request cancelled).
bool await_acceptance(Exchange& x) {
  for (;;) {
    std::vector<ChannelEvent> events;
    x.channel->wait(events, kSlice);
    for (size_t i = 0; i < events.size(); ++i) {
      ChannelEvent& e = events[i];
      if (e.kind == ChannelEvent::Kind::kRejected) throw bad_request("", e.error);
      if (e.kind == ChannelEvent::Kind::kFailed) throw engine_failure(e.error);
      if (e.kind == ChannelEvent::Kind::kAccepted) {
        for (size_t j = i + 1; j < events.size(); ++j) x.pending.push_back(std::move(events[j]));
        return true;
      }
    }
    if (x.watch.closed()) {
      x.cancel();
      return false;
    }
  }
}

void respond_whole(Exchange& x, httplib::Response& res, const ResponseMeta& meta,
                   const Tokenizer& tok) {
  for (;;) {
    if (std::optional<std::string> failure = x.take([](const ChannelEvent&) {}))
      throw engine_failure(*failure);
    if (x.done()) break;
    x.channel->wait(x.pending, kSlice);
    if (x.watch.closed()) {  // nobody to answer: stop the work
      x.cancel();
      res.status = 499;  // nginx's "client closed request"; never reaches anyone
      return;
    }
  }
  res.set_content(dump_json(full_response(meta, x.outputs, tok)), "application/json");
}

struct StreamState {
  StreamState(std::unique_ptr<Exchange> x, ResponseMeta meta, const Tokenizer& tok, int32_t n,
              bool include_usage)
      : x(std::move(x)),
        n(n),
        format(std::move(meta), tok, int32_t(this->x->outputs.size()) * n, include_usage) {}
  std::unique_ptr<Exchange> x;
  int32_t n;
  StreamFormatter format;
  bool started = false;
};

// The content provider's body: what has arrived as SSE chunks, [DONE] at the end. False stops
// the response (and cancels the request).
bool stream_some(StreamState& st, httplib::DataSink& sink) {
  Exchange& x = *st.x;
  std::string out;
  if (!st.started) {
    st.started = true;
    out = st.format.start();
  }
  if (x.pending.empty()) x.channel->wait(x.pending, kSlice);
  const std::optional<std::string> failure = x.take([&](const ChannelEvent& e) {
    out += st.format.delta(e.prompt * st.n + e.delta.sample, e.delta);
  });
  if (failure) {
    out += sse_data(
        {{"error",
          {{"message", *failure}, {"type", "server_error"}, {"param", nullptr}, {"code", 500}}}});
    out += kSseDone;
  } else if (x.done()) {
    out += st.format.done(usage_of(x.outputs));
  }
  if (!out.empty() && !sink.write(out.data(), out.size())) {  // the client has gone
    x.cancel();
    return false;
  }
  if (failure || x.done()) {
    sink.done();
    return true;
  }
  if (x.watch.closed()) {
    x.cancel();
    return false;
  }
  return true;
}

}  // namespace

void send_error(httplib::Response& res, const ApiError& e, ServerMetrics& metrics) {
  res.status = e.status;
  res.set_content(error_body(e), "application/json");
  metrics.count_error(e.status);
}

void handle_generation(const httplib::Request& req, httplib::Response& res, Endpoint endpoint,
                       ServerState& s) {
  try {
    // Nesting bounded before parsing (core/json_depth.h): a body nested 100k deep would overflow
    // the stack when its value is copied or echoed.
    if (json_nesting_depth(req.body) > kMaxJsonDepth)
      throw bad_request("", str_cat("the request body nests arrays / objects deeper than ",
                                    kMaxJsonDepth, " levels"));
    Json body;
    try {
      body = Json::parse(req.body);
    } catch (const nlohmann::json::exception& e) {
      throw bad_request("", std::string("the request body is not valid JSON: ") + e.what());
    }
    ParsedRequest r = endpoint == Endpoint::kCompletions ? parse_completion_request(body, s.model)
                                                         : parse_chat_request(body, s.model);
    const ResponseMeta meta = response_meta(r, s.model.name, int64_t(std::time(nullptr)));
    const size_t num_prompts = r.prompts.size();
    const int32_t n = r.n();
    auto channel = std::make_shared<RequestChannel>();
    if (!s.loop.submit(channel, std::move(r.prompts), std::move(r.params), r.stream)) {
      res.set_header("Retry-After", std::to_string(s.retry_after_s));
      throw ApiError(503, "server_overloaded", "",
                     "the server is at its limit of queued and running requests (--max-queued); "
                     "retry later");
    }
    auto x = std::make_unique<Exchange>(channel, s.loop, req, num_prompts);
    if (!await_acceptance(*x)) {
      res.status = 499;
      return;
    }
    const Tokenizer& tok = s.model.text->tokenizer;
    if (!r.stream) {
      respond_whole(*x, res, meta, tok);
      return;
    }
    auto st = std::make_shared<StreamState>(std::move(x), meta, tok, n, r.include_usage);
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream",
        [st](size_t, httplib::DataSink& sink) { return stream_some(*st, sink); },
        [st](bool success) {
          if (!success) st->x->cancel();  // write failed or the server stopped mid-stream
        });
  } catch (const ApiError& e) {
    send_error(res, e, s.metrics);
  }
}

}  // namespace pagedkv
