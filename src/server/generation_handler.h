#pragma once
// POST /v1/completions and /v1/chat/completions on the HTTP thread that serves the connection:
// parse and validate (400 / 404 before anything reaches the engine), submit to the engine thread
// (503 + Retry-After when the server already holds its bound of requests), wait for the engine to
// accept (400 if it refuses, e.g. a request that cannot fit the empty KV pool), then either
//   - stream: a chunked text/event-stream response whose content provider forwards each delta
//     from the request's channel as an SSE chunk as soon as it arrives, or
//   - wait for every prompt's final output and answer one JSON body.
// Waits are 50 ms slices; between them the handler checks its connection (ConnectionWatch), and a
// failed write ends the stream: either way a client that has gone cancels its request, whose
// blocks return to the pool before the engine's next step.

#include <httplib.h>

#include "server/api_error.h"
#include "server/engine_loop.h"
#include "server/request_parser.h"
#include "server/served_model.h"
#include "server/server_metrics.h"

namespace pagedkv {

struct ServerState {
  const ServedModel& model;
  EngineLoop& loop;
  ServerMetrics& metrics;
  int retry_after_s = 1;
};

// An OpenAI-style error response (and its count in the metrics).
void send_error(httplib::Response& res, const ApiError& e, ServerMetrics& metrics);

void handle_generation(const httplib::Request& req, httplib::Response& res, Endpoint endpoint,
                       ServerState& state);

}  // namespace pagedkv
