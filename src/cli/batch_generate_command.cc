#include "cli/batch_generate_command.h"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/id_list.h"
#include "core/error.h"
#include "engine/engine.h"
#include "engine/models.h"

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
  std::string device = "cpu";
  std::string kv_dtype = "auto";
};

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
  const std::unique_ptr<ModelRunner> model =
      load_model(o.model_dir, {.device = o.device, .decode_kernel = parse_decode_kernel(o.kernel)});
  EngineConfig c;
  if (o.kv_dtype != "auto") c.kv_dtype = parse_dtype(o.kv_dtype);
  c.block_size = o.block_size;
  c.num_blocks = o.num_blocks;
  c.enable_prefix_cache = !o.no_prefix_cache;
  c.scheduler.max_num_batched_tokens = o.batch_tokens;
  c.scheduler.max_num_seqs = o.max_seqs;
  Engine engine(*model, c);
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
  cmd->add_option("--kv-dtype", o->kv_dtype, "KV cache dtype: auto (cpu f32, cuda bf16), bf16, fp8_e4m3, ...");
  cmd->add_option("--device", o->device, "cpu or cuda (bf16 weights and KV on the GPU)");
  cmd->callback([o] { run_batch_generate(*o); });
}

}  // namespace pagedkv
