#pragma once
// The tokenizer of a GGUF file (tokenizer.ggml.* metadata), built as transformers' own GGUF
// conversion builds it (integrations/gguf/gguf_tokenizer_mapping.py, transformers 5.24), so that
// encoding equals `AutoTokenizer.from_pretrained(dir, gguf_file=...)` id for id:
//   - tokenizer.ggml.model "gpt2": byte-level BPE. Vocabulary spelled in GPT-2's byte alphabet
//     (tokens outside it re-spelled from their UTF-8 bytes), the file's merges, ByteLevel
//     pre-tokenizer (GPT-2 regex) — or, when tokenizer.ggml.pre names a known split (llama3 /
//     llama-bpe / qwen2 / tekken / gpt-4o / ...), that regex followed by ByteLevel;
//   - "llama" (SentencePiece): BPE with byte fallback; Gemma 3 files as GemmaTokenizer
//     (Replace ' ' -> '▁' normalizer, split on spaces, all-space pieces re-spelled with '▁', merges
//     derived from the vocabulary in file order), others as LlamaTokenizer (Metaspace), merges
//     derived from the scores when the file has none;
//   - control pieces (token type 3) become special added tokens (in a byte-level vocabulary only
//     those spelled in its alphabet), user-defined ones (type 4) plain added tokens; BOS / EOS
//     added by the post-processor as tokenizer.ggml.add_bos_token / add_eos_token say.
// Chat template: tokenizer.chat_template. Special token strings and bos / eos ids from the ids the
// file names.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/gguf_file.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/generation_config.h"

namespace pagedkv {

struct GgufTokenizerParts {
  nlohmann::json tokenizer_json;  // a tokenizer.json document
  SpecialTokens special_tokens;
  std::optional<std::string> chat_template;
  GenerationConfig generation;  // bos / eos / pad ids
};

// Error(NotFound) when the file has no tokenizer; Error(Unsupported) naming an unknown model type.
GgufTokenizerParts gguf_tokenizer_parts(const GgufFile& file);

}  // namespace pagedkv
