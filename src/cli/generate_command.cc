#include "cli/generate_command.h"

#include <algorithm>
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

struct GenerateOptions {
  std::string model_dir;
  std::string prompt_ids;
  int32_t max_new_tokens = 16;
  int32_t block_size = 16;
  std::string device = "cpu";
};

void run_generate(const GenerateOptions& o) {
  std::vector<int32_t> prompt = parse_id_list(o.prompt_ids, "--prompt-ids");
  PKV_CHECK(!prompt.empty(), InvalidArgument, "--prompt-ids: no token ids given");
  PKV_CHECK(o.block_size >= 1 && o.block_size <= 256 && (o.block_size & (o.block_size - 1)) == 0,
            InvalidArgument, "--block-size must be a power of two in [1, 256], got ", o.block_size);
  const std::unique_ptr<ModelRunner> model = load_model(o.model_dir, {.device = o.device});
  if (o.max_new_tokens == 0) {
    std::cout << "\n";
    return;
  }
  // One greedy request through the engine, in a pool sized for it: the context limit bounds the
  // pool (the request itself is checked against that limit when it is added).
  EngineConfig c;
  c.block_size = o.block_size;
  const int64_t limit = model->max_model_len() > 0 ? model->max_model_len() : 4096;
  const int64_t tokens = std::min<int64_t>(int64_t(prompt.size()) + o.max_new_tokens, limit);
  c.num_blocks = int32_t(tokens / o.block_size + 2);
  Engine engine(*model, c);
  SamplingParams sp;
  sp.max_tokens = o.max_new_tokens;
  engine.add_request(std::move(prompt), sp);
  const std::vector<RequestOutput> done = engine.run();
  const std::vector<int32_t>& out = done.at(0).samples.at(0).tokens;
  for (size_t i = 0; i < out.size(); ++i) std::cout << (i ? "," : "") << out[i];
  std::cout << "\n";
}

}  // namespace

void register_generate_command(CLI::App& app) {
  auto opts = std::make_shared<GenerateOptions>();
  CLI::App* cmd =
      app.add_subcommand("generate", "greedy generation from a Hugging Face checkpoint");
  cmd->add_option("--model", opts->model_dir, "checkpoint directory (config.json + safetensors)")
      ->required();
  cmd->add_option("--prompt-ids", opts->prompt_ids, "prompt token ids, comma-separated")
      ->required();
  cmd->add_option("--max-new-tokens", opts->max_new_tokens, "tokens to generate")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--block-size", opts->block_size, "KV block size (power of two, 1..256)");
  cmd->add_option("--device", opts->device, "cpu or cuda (bf16 weights and KV on the GPU)");
  cmd->callback([opts] { run_generate(*opts); });
}

}  // namespace pagedkv
