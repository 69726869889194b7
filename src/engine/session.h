#pragma once
// A checkpoint loaded for a front end (the `pagedkv` commands and `pagedkv serve`): the model
// behind the runner of the chosen device and, when the checkpoint has a tokenizer.json, its text
// side (tokenizer, chat template, generation_config.json's stop ids and sampling defaults). A
// checkpoint without tokenizer.json still serves token ids. Immutable after load(), so the
// server's HTTP threads may read the text side while the engine thread runs the model.

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/model_runner.h"
#include "tokenizer/model_tokenizer.h"

namespace pagedkv {

struct SessionOptions {
  std::string model_dir;      // checkpoint directory, or a .gguf file (model + text side)
  std::string tokenizer_dir;  // empty: the model directory
  std::string device = "cpu";
  std::string kv_dtype = "auto";  // auto (the runner's: cpu f32, cuda bf16), bf16, fp8_e4m3
  std::string kernel = "auto";    // CPU decode attention: auto, fused, gather, prefill
  int32_t block_size = 16;
  int32_t num_blocks = 0;     // 0: sized by engine_config() for the tokens it is asked for
  int64_t max_model_len = 0;  // 0: the model's; else a smaller context (never larger)
  int32_t threads = 0;        // CPU threads (0: $PAGEDKV_NUM_THREADS, else every core)
  std::string chat_template;  // a Jinja file replacing (or supplying) the checkpoint's template
  // GPU: with num_blocks 0, the KV pool takes what the weights and activations leave of this
  // fraction of device memory (engine/kv_budget.h).
  double gpu_memory_fraction = 0.9;
  bool batch_invariant = false;  // cuda: ModelOptions::batch_invariant
};

struct Session {
  std::unique_ptr<ModelRunner> model;
  std::optional<ModelTokenizer> text;
  SessionOptions options;

  // Errors name the flag-level problem (block size, missing tokenizer.json under an explicit
  // tokenizer directory, a context larger than the model's) or come from the checkpoint.
  static Session load(const SessionOptions& options);
  // Stop ids (EOS) the checkpoint names: generation_config.json, else tokenizer_config's eos.
  std::vector<int32_t> eos_ids() const;
  // The context requests are checked against: options.max_model_len, else the model's (4096
  // when the checkpoint does not say).
  int64_t max_model_len() const;
  // The checkpoint's chat template applied to a conversation (InvalidArgument if it has none).
  std::string render_chat(const nlohmann::ordered_json& messages, const ChatOptions& o) const;
  // An engine config for `tokens` tokens of context at once (0: a server's or a batch's, size
  // unknown). Pool size: the options' num_blocks; else on a GPU the device budget of
  // gpu_memory_fraction (capped at `tokens` when given); else `tokens` tokens' blocks. `note`,
  // when given, receives the GPU budget's one-line summary (empty otherwise).
  EngineConfig engine_config(int64_t tokens, std::string* note = nullptr) const;
};

// The room a prompt leaves in the context, as the default max_tokens when none was given.
int32_t default_max_tokens(int64_t prompt_len, int64_t max_model_len, int32_t requested);

}  // namespace pagedkv
