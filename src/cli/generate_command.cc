#include "cli/generate_command.h"

#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/causal_lm.h"

namespace pagedkv {
namespace {

struct GenerateOptions {
  std::string model_dir;
  std::string prompt_ids;
  int32_t max_new_tokens = 16;
  int32_t block_size = 16;
};

std::vector<int32_t> parse_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    PKV_CHECK(used == item.size() && !item.empty() && v >= 0 && v <= INT32_MAX, InvalidArgument,
              "--prompt-ids: '", item, "' is not a token id");
    ids.push_back(int32_t(v));
  }
  PKV_CHECK(!ids.empty(), InvalidArgument, "--prompt-ids: no token ids given");
  return ids;
}

void run_generate(const GenerateOptions& o) {
  const std::vector<int32_t> prompt = parse_ids(o.prompt_ids);
  PKV_CHECK(o.block_size >= 1 && o.block_size <= 256 && (o.block_size & (o.block_size - 1)) == 0,
            InvalidArgument, "--block-size must be a power of two in [1, 256], got ", o.block_size);
  const CausalLm model = CausalLm::load(o.model_dir);
  const std::vector<int32_t> out = generate_greedy(model, prompt, o.max_new_tokens, o.block_size);
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
  cmd->callback([opts] { run_generate(*opts); });
}

}  // namespace pagedkv
