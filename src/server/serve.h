#pragma once
// The `pagedkv serve` program: load a checkpoint (engine/session.h), size the KV pool, start the
// engine thread and the HTTP server, announce the address on stderr, serve until SIGINT or
// SIGTERM, then finish the requests in flight and exit.

#include <cstdint>
#include <string>

#include "engine/session.h"
#include "server/openai_server.h"

namespace pagedkv {

struct ServeConfig {
  SessionOptions model;
  ServerOptions server;
  std::string served_model_name;  // empty: the model directory's name
  // KV pool when model.num_blocks is 0: on a GPU, model.gpu_memory_fraction of device memory
  // (engine/kv_budget.h); on the CPU, as many blocks as kv_cache_gib holds, but no more than
  // max_num_seqs full contexts need.
  double kv_cache_gib = 2.0;
  int32_t max_num_seqs = 64;             // running sequences (decode batch) at most
  int32_t max_num_batched_tokens = 512;  // tokens per engine step (decode + prefill chunks)
};

// The model's name as served: the last component of the model directory.
std::string default_served_model_name(const std::string& model_dir);

// Blocks per layer group for the config (model.num_blocks when set).
int32_t kv_pool_blocks(const ServeConfig& config, const ModelRunner& model, int64_t max_model_len);

// Blocks until a signal stops the server. Errors (bad flags, model, address) throw pagedkv::Error.
void run_server(const ServeConfig& config);

}  // namespace pagedkv
