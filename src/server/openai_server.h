#pragma once
// `pagedkv serve`: the OpenAI-compatible HTTP server over one Engine.
//
//   POST /v1/completions        POST /v1/chat/completions     (generation_handler.h)
//   GET  /v1/models             GET  /health                  GET /metrics (Prometheus)
//
// Threads: cpp-httplib accepts on the thread that calls serve() and hands each connection to a
// worker of a BoundedTaskQueue (a fixed pool: max_queued + 16 workers); handlers parse, tokenize
// and format on those workers. The engine runs on the EngineLoop's thread only. Unknown routes
// are 404 and bodies over max_body_bytes 413, both as OpenAI-style JSON errors.

#include <httplib.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/engine.h"
#include "server/engine_loop.h"
#include "server/generation_handler.h"
#include "server/served_model.h"
#include "server/server_metrics.h"

namespace pagedkv {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;           // 0: a free port (bind() returns it)
  int32_t max_queued = 256;  // requests queued + running; beyond: 503
  size_t max_body_bytes = size_t(16) << 20;
  int32_t http_threads = 0;         // 0: max_queued + 16
  int retry_after_s = 1;            // the 503's Retry-After
  time_t keep_alive_timeout_s = 5;  // idle keep-alive connections hold a worker this long
};

class OpenAiServer {
 public:
  // The engine must outlive the server and is driven only by it from now on.
  OpenAiServer(ServedModel model, Engine& engine, ServerOptions options);
  ~OpenAiServer();

  // Binds the listening socket; returns the port (the chosen one for port 0).
  // Error(InvalidArgument) naming the address when it cannot be bound.
  int bind();
  // Accepts and serves until stop(); returns when every worker has finished.
  void serve();
  // Any thread (e.g. a signal watcher).
  void stop();

  const ServerMetrics& metrics() const { return metrics_; }
  int64_t requests_in_flight() const { return loop_.in_flight(); }

 private:
  void add_routes();

  ServedModel model_;
  ServerOptions options_;
  ServerMetrics metrics_;
  EngineLoop loop_;
  ServerState state_;
  httplib::Server http_;
};

}  // namespace pagedkv
