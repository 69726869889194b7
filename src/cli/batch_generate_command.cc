#include "cli/batch_generate_command.h"

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "engine/engine.h"

namespace pagedkv {
namespace {

struct BatchGenerateOptions {
  std::string model_dir;
  std::vector<std::string> prompts;  // each "id,id,..."
  int32_t max_new_tokens = 16;
  int32_t n = 1;
  float temperature = 0.0f;
  int32_t top_k = 0;
  float top_p = 1.0f;
  float min_p = 0.0f;
  uint64_t seed = 0;
  std::string stop_ids;
  int32_t block_size = 16;
  int32_t num_blocks = 1024;
  int32_t batch_tokens = 256;
  int32_t max_seqs = 64;
  bool no_prefix_cache = false;
  std::string kernel = "auto";
};

std::vector<int32_t> parse_id_list(const std::string& text, const char* what) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    PKV_CHECK(used == item.size() && !item.empty() && v >= 0 && v <= INT32_MAX, InvalidArgument,
              what, ": '", item, "' is not a token id");
    ids.push_back(int32_t(v));
  }
  return ids;
}

// The context length the checkpoint was trained for (max_position_embeddings; the text config
// of multimodal checkpoints nests it), or `fallback` when config.json does not say.
int64_t max_position_embeddings(const std::string& dir, int64_t fallback) {
  std::ifstream in(dir + "/config.json");
  if (!in) return fallback;
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) return fallback;
  for (const nlohmann::json* c : {&j, j.contains("text_config") ? &j["text_config"] : nullptr})
    if (c && c->contains("max_position_embeddings") && (*c)["max_position_embeddings"].is_number_integer())
      return (*c)["max_position_embeddings"].get<int64_t>();
  return fallback;
}

void run_batch_generate(const BatchGenerateOptions& o) {
  PKV_CHECK(!o.prompts.empty(), InvalidArgument, "--prompt-ids: give at least one prompt");
  std::vector<std::vector<int32_t>> prompts;
  for (const std::string& p : o.prompts) prompts.push_back(parse_id_list(p, "--prompt-ids"));
  SamplingParams sp;
  sp.max_tokens = o.max_new_tokens;
  sp.n = o.n;
  sp.temperature = o.temperature;
  sp.top_k = o.top_k;
  sp.top_p = o.top_p;
  sp.min_p = o.min_p;
  sp.seed = o.seed;
  if (!o.stop_ids.empty()) sp.stop_token_ids = parse_id_list(o.stop_ids, "--stop-ids");
  DecodeKernel kernel = DecodeKernel::kAuto;
  if (o.kernel == "fused") kernel = DecodeKernel::kFusedPaged;
  else if (o.kernel == "gather") kernel = DecodeKernel::kGather;
  else if (o.kernel == "prefill") kernel = DecodeKernel::kPagedPrefill;
  else PKV_CHECK(o.kernel == "auto", InvalidArgument, "--kernel: '", o.kernel,
                 "' is not one of auto, fused, gather, prefill");

  CausalLm model = CausalLm::load(o.model_dir);
  model.set_decode_kernel(kernel);
  EngineConfig c;
  c.block_size = o.block_size;
  c.num_blocks = o.num_blocks;
  c.enable_prefix_cache = !o.no_prefix_cache;
  c.max_model_len = max_position_embeddings(o.model_dir, c.max_model_len);
  c.scheduler.max_num_batched_tokens = o.batch_tokens;
  c.scheduler.max_num_seqs = o.max_seqs;
  Engine engine(model, c);
  for (auto& p : prompts) engine.add_request(std::move(p), sp);  // all validated before any runs
  for (const RequestOutput& r : engine.run())
    for (const SampleOutput& s : r.samples) {
      for (size_t i = 0; i < s.tokens.size(); ++i) std::cout << (i ? "," : "") << s.tokens[i];
      std::cout << "\n";
    }
  const EngineMetrics m = engine.metrics();
  std::cerr << "requests " << m.finished_requests << ", steps " << m.steps << ", prefill "
            << m.prefill_tokens << " tokens (" << int64_t(m.prefill_tokens_per_s()) << " tok/s), decode "
            << m.decode_tokens << " tokens (" << int64_t(m.decode_tokens_per_s()) << " tok/s), peak "
            << m.peak_blocks_used << "/" << m.blocks_total << " blocks, prefix hits "
            << m.prefix_hit_tokens << "/" << m.prefix_query_tokens << " tokens, preemptions "
            << m.preemptions << "\n";
}

}  // namespace

void register_batch_generate_command(CLI::App& app) {
  auto o = std::make_shared<BatchGenerateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "batch-generate", "several prompts at once through the engine, from a Hugging Face checkpoint");
  cmd->add_option("--model", o->model_dir, "checkpoint directory (config.json + safetensors)")->required();
  cmd->add_option("--prompt-ids", o->prompts, "a prompt's token ids, comma-separated (repeat per prompt)")
      ->required();
  cmd->add_option("--max-new-tokens", o->max_new_tokens, "new tokens per sample (>= 1)");
  cmd->add_option("-n", o->n, "samples per prompt");
  cmd->add_option("--temperature", o->temperature, "0: greedy");
  cmd->add_option("--top-k", o->top_k, "0: off");
  cmd->add_option("--top-p", o->top_p, "1: off");
  cmd->add_option("--min-p", o->min_p, "0: off");
  cmd->add_option("--seed", o->seed, "sample i of a request draws from seed + i");
  cmd->add_option("--stop-ids", o->stop_ids, "stop token ids, comma-separated (e.g. EOS)");
  cmd->add_option("--block-size", o->block_size, "tokens per KV block");
  cmd->add_option("--num-blocks", o->num_blocks, "KV pool size in blocks (per layer group)");
  cmd->add_option("--batch-tokens", o->batch_tokens, "token budget per step");
  cmd->add_option("--max-seqs", o->max_seqs, "most running sequences");
  cmd->add_flag("--no-prefix-cache", o->no_prefix_cache, "turn prefix reuse off");
  cmd->add_option("--kernel", o->kernel, "decode attention: auto, fused, gather, prefill");
  cmd->callback([o] { run_batch_generate(*o); });
}

}  // namespace pagedkv
