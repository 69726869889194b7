#pragma once
// Everything text-related a checkpoint directory holds, loaded together for the CLI and server:
// tokenizer.json, tokenizer_config.json (special token strings, chat template; or
// chat_template.jinja), generation_config.json (stop ids, sampling defaults).

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/chat_template.h"
#include "tokenizer/generation_config.h"
#include "tokenizer/tokenizer.h"

namespace pagedkv {

struct ModelTokenizer {
  Tokenizer tokenizer;
  SpecialTokens special_tokens;               // strings from tokenizer_config.json
  std::optional<ChatTemplate> chat_template;  // absent if the checkpoint has none
  GenerationConfig generation;

  // tokenizer.json is required (kNotFound otherwise); the other files are optional. A path to a
  // .gguf file loads the tokenizer from its metadata instead (load_gguf).
  static ModelTokenizer load(const std::filesystem::path& dir);
  // tokenizer.ggml.* and tokenizer.chat_template of a GGUF file (gguf_vocab.h).
  static ModelTokenizer load_gguf(const std::filesystem::path& gguf_file);

  // Stop ids: generation_config's eos_token_id(s), else the id of tokenizer_config's eos_token.
  std::vector<int32_t> eos_ids() const;
};

}  // namespace pagedkv
