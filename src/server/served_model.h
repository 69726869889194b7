#pragma once
// What the HTTP side knows of the model it serves: its name, its text side and its limits.
// Read-only once the server starts, so every handler thread may use it without locks (the
// tokenizer and chat template are thread-safe).

#include <cstdint>
#include <string>

#include "tokenizer/model_tokenizer.h"

namespace pagedkv {

struct ServedModel {
  std::string name;                      // --served-model-name (default: the model dir's name)
  const ModelTokenizer* text = nullptr;  // required: the server speaks text
  int64_t vocab_size = 0;
  int64_t max_model_len = 0;  // prompt + generated tokens of one sample
  int32_t max_prompts = 256;  // prompts in one completions request (each one engine request)
  int64_t created = 0;        // unix time the server started (GET /v1/models)
};

}  // namespace pagedkv
