#pragma once
// What the text commands (generate, batch-generate, chat) share: the flags that pick a model and
// its tokenizer, the sampling flags (defaults from the checkpoint's generation_config.json), the
// prompt flags, and the engine set up for them. A checkpoint without tokenizer.json still works
// with token ids (--prompt-ids; output as ids).

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/models.h"
#include "tokenizer/model_tokenizer.h"

namespace pagedkv {

struct ModelFlags {
  std::string model_dir;
  std::string tokenizer_dir;  // empty: the model directory
  std::string device = "cpu";
  std::string kv_dtype = "auto";
  std::string kernel = "auto";
  int32_t block_size = 16;
  int32_t num_blocks = 0;  // 0: enough for the requests (the context limit bounds it)
  int32_t threads = 0;     // CPU threads (0: $PAGEDKV_NUM_THREADS, else every core)
  std::string chat_template;  // a Jinja file replacing (or supplying) the checkpoint's template
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

// A model behind its runner, with its text side when the checkpoint has one.
struct Session {
  std::unique_ptr<ModelRunner> model;
  std::optional<ModelTokenizer> text;

  static Session load(const ModelFlags& flags);
  // Stop ids (EOS) the checkpoint names: generation_config.json, else tokenizer_config's eos.
  std::vector<int32_t> eos_ids() const;
  // Sampling parameters from the flags over the checkpoint's defaults; `log` gets the seed.
  SamplingParams sampling(const SamplingFlags& flags, int32_t max_tokens, std::ostream& log) const;
  // Token ids of the prompt flags (text through the tokenizer, --chat through the template).
  std::vector<int32_t> prompt_ids(const PromptFlags& flags) const;
  // Chat template rendering of a conversation (error if the checkpoint has no template).
  std::string render_chat(const nlohmann::ordered_json& messages, const PromptFlags& flags) const;
  // The context length requests are checked against.
  int64_t max_model_len() const;
  // An engine config for `tokens` tokens of context at once (pool size from the flags or that).
  EngineConfig engine_config(const ModelFlags& flags, int64_t tokens) const;
};

// The room a prompt leaves in the context, as the default max_tokens when none was given.
int32_t default_max_tokens(int64_t prompt_len, int64_t max_model_len, int32_t requested);

}  // namespace pagedkv
