#include "server/openai_server.h"

#include "core/error.h"
#include "server/bounded_task_queue.h"
#include "server/responses.h"

namespace pagedkv {

OpenAiServer::OpenAiServer(ServedModel model, Engine& engine, ServerOptions options)
    : model_(std::move(model)),
      options_(options),
      loop_(engine, metrics_, options.max_queued),
      state_{model_, loop_, metrics_, options.retry_after_s} {
  PKV_CHECK(model_.text != nullptr, InvalidArgument,
            "serve: the model has no tokenizer.json (pass --tokenizer DIR): the API speaks text");
  PKV_CHECK(options_.max_queued >= 1, InvalidArgument, "--max-queued must be >= 1, got ",
            options_.max_queued);
  model_.max_prompts = options_.max_queued;
  const size_t threads =
      options_.http_threads > 0 ? size_t(options_.http_threads) : size_t(options_.max_queued) + 16;
  // Connections beyond the workers wait here (up to as many again), then in the kernel's backlog.
  http_.new_task_queue = [threads] { return new BoundedTaskQueue(threads, threads); };
  http_.set_payload_max_length(options_.max_body_bytes);
  http_.set_keep_alive_timeout(options_.keep_alive_timeout_s);
  http_.set_keep_alive_max_count(1000);
  // A streaming client that stops reading for this long is treated as gone.
  http_.set_write_timeout(30, 0);
  http_.set_tcp_nodelay(true);  // SSE chunks are small and latency matters
  add_routes();
}

OpenAiServer::~OpenAiServer() {
  stop();
  loop_.stop();
}

int OpenAiServer::bind() {
  int port = options_.port;
  if (port == 0) {
    port = http_.bind_to_any_port(options_.host);
  } else if (!http_.bind_to_port(options_.host, port)) {
    port = -1;
  }
  PKV_CHECK(port > 0, InvalidArgument, "serve: cannot listen on ", options_.host, ":",
            options_.port, " (address in use, or not an address of this machine)");
  return port;
}

void OpenAiServer::serve() { http_.listen_after_bind(); }

void OpenAiServer::stop() { http_.stop(); }

void OpenAiServer::add_routes() {
  http_.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    handle_generation(req, res, Endpoint::kCompletions, state_);
  });
  http_.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    handle_generation(req, res, Endpoint::kChatCompletions, state_);
  });
  http_.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    Json m;
    m["id"] = model_.name;
    m["object"] = "model";
    m["created"] = model_.created;
    m["owned_by"] = "pagedkv";
    m["max_model_len"] = model_.max_model_len;
    Json list;
    list["object"] = "list";
    list["data"] = Json::array({std::move(m)});
    res.set_content(dump_json(list), "application/json");
  });
  http_.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  // Every error response without a body of its own (no route: 404; body too large: 413; ...)
  // gets an OpenAI-style one. Handlers' own errors already have theirs.
  http_.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string type = "invalid_request_error", message;
        if (res.status == 404) {
          type = "not_found_error";
          message = "no route " + req.method + " " + req.path;
        } else if (res.status == 413) {
          message = "the request body exceeds this server's limit of " +
                    std::to_string(options_.max_body_bytes) + " bytes";
        } else {
          message = "HTTP " + std::to_string(res.status) + " for " + req.method + " " + req.path;
        }
        if (res.status != 499)
          metrics_.count_error(res.status);  // 499: the client left, unanswered
        res.set_content(error_body(res.status, type, "", message), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  http_.set_exception_handler(
      [this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string message = "internal error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          message = std::string("internal error: ") + e.what();
        } catch (...) {
        }
        res.status = 500;
        metrics_.count_error(500);
        res.set_content(error_body(500, "server_error", "", message), "application/json");
      });
}

}  // namespace pagedkv
