#include "cli/serve_command.h"

#include <memory>

#include "cli/session.h"
#include "server/serve.h"

namespace pagedkv {

void register_serve_command(CLI::App& app) {
  auto model = std::make_shared<ModelFlags>();
  auto config = std::make_shared<ServeConfig>();
  CLI::App* cmd = app.add_subcommand(
      "serve",
      "OpenAI-compatible HTTP server: /v1/completions, /v1/chat/completions (SSE streaming), "
      "/v1/models, /health, /metrics");
  model->add_to(cmd);
  ServerOptions& s = config->server;
  cmd->add_option("--host", s.host, "address to listen on");
  cmd->add_option("--port", s.port, "TCP port (0: any free one, printed on stderr)");
  cmd->add_option("--served-model-name", config->served_model_name,
                  "the model's name in the API (default: the model directory's name)");
  cmd->add_option(
      "--max-queued", s.max_queued,
      "most requests in the server at once, queued + running (one per prompt); more get "
      "503 with Retry-After");
  cmd->add_option("--max-body-bytes", s.max_body_bytes, "largest request body (413 beyond)");
  cmd->add_option("--kv-cache-gib", config->kv_cache_gib,
                  "cpu: KV pool size in GiB when --num-blocks is 0 (capped at what --max-num-seqs "
                  "full contexts need); cuda: see --gpu-memory-fraction");
  cmd->add_option("--max-num-seqs", config->max_num_seqs,
                  "running sequences at most (decode batch)");
  cmd->add_option("--max-num-batched-tokens", config->max_num_batched_tokens,
                  "tokens per engine step (decode tokens + prefill chunks)");
  cmd->callback([model, config] {
    config->model = *model;
    run_server(*config);
  });
}

}  // namespace pagedkv
