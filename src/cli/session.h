#pragma once
// What the text commands (generate, batch-generate, chat) share: the flags that pick a model and
// its tokenizer (a SessionOptions, engine/session.h, which `pagedkv serve` loads too), the
// sampling flags (defaults from the checkpoint's generation_config.json) and the prompt flags. A
// checkpoint without tokenizer.json still works with token ids (--prompt-ids; output as ids).

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/session.h"

namespace pagedkv {

struct ModelFlags : SessionOptions {
  void add_to(CLI::App* cmd);
};

struct SamplingFlags {
  float temperature = -1, top_p = -1, min_p = -1;  // < 0: the checkpoint's default, else off
  int32_t top_k = -1;
  int64_t seed = -1;  // < 0: a random seed, printed on stderr when sampling
  int32_t n = 1;
  std::vector<std::string> stop;
  std::string stop_ids;
  int32_t logprobs = 0;
  bool ignore_eos = false;
  void add_to(CLI::App* cmd, bool with_n);
};

struct PromptFlags {
  std::string text, file, ids;  // exactly one of them (file "-": stdin)
  bool chat = false;
  std::string system;
  std::vector<std::string> chat_vars;  // KEY=JSON, e.g. enable_thinking=false
  void add_to(CLI::App* cmd);
};

// Sampling parameters from the flags over the checkpoint's defaults; `log` gets the seed.
SamplingParams sampling_params(const Session& s, const SamplingFlags& flags, int32_t max_tokens,
                               std::ostream& log);
// Token ids of the prompt flags (text through the tokenizer, --chat through the template).
std::vector<int32_t> prompt_ids(const Session& s, const PromptFlags& flags);
// Chat template rendering of a conversation with the flags' --chat-var variables.
std::string render_chat(const Session& s, const nlohmann::ordered_json& messages,
                        const PromptFlags& flags);

}  // namespace pagedkv
