#pragma once
// Tokenizer: a Hugging Face tokenizer.json, id for id what the `tokenizers` library produces.
//
//   encode:  added tokens split out (never split further) -> normalizer -> pre-tokenizer -> BPE
//            -> post-processor (only with add_special_tokens: BOS insertion)
//   decode:  ids -> token strings (special ones optionally skipped) -> decoder chain -> text
//
// Immutable after loading and safe to share between threads (the BPE word cache is locked).
// Copies are cheap: they share the loaded tables.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pagedkv {

struct EncodeOptions {
  bool add_special_tokens = false;  // run the post-processor (e.g. prepend <|begin_of_text|>)
  bool parse_special = true;        // special tokens written in the text become their ids;
                                    // false: they are tokenized as plain text (HF's
                                    // encode_special_tokens = true). Non-special added tokens
                                    // (e.g. Qwen's <think>) are matched either way.
};

struct TokenizerImpl;
class DecodeStream;

class Tokenizer {
 public:
  // Errors: kNotFound (no file), kCorrupt (malformed JSON or a field of the wrong shape, named),
  // kUnsupported (a component type this build does not implement, named).
  static Tokenizer from_file(const std::filesystem::path& tokenizer_json);
  static Tokenizer from_json(std::string_view tokenizer_json_text);
  // An already parsed tokenizer.json document (GGUF vocabularies build one: gguf_vocab.h).
  static Tokenizer from_document(const nlohmann::json& tokenizer_json);

  // text must be valid UTF-8 (kInvalidArgument naming the first bad byte offset otherwise).
  std::vector<int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const;
  // Unknown ids are dropped, as HF does. Invalid UTF-8 from byte pieces becomes U+FFFD exactly
  // where HF puts it.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;
  // Streaming detokenizer: feed ids one at a time, get the newly completed text.
  DecodeStream decode_stream(bool skip_special_tokens = false) const;

  // The bytes one token contributes to decoded text. May be part of a UTF-8 character (byte-level
  // and <0xNN> byte-fallback pieces); use DecodeStream to print generated text.
  std::string token_to_piece(int32_t id) const;
  // The token's string as the vocabulary stores it (e.g. "Ġhello", "<|eot_id|>").
  std::optional<std::string> id_to_token(int32_t id) const;
  std::optional<int32_t> token_to_id(std::string_view token) const;

  bool is_special(int32_t id) const;         // an added token marked special
  std::vector<int32_t> special_ids() const;  // all of them, ascending
  // Ids the post-processor puts before the text (e.g. {128000}); empty if none.
  std::vector<int32_t> bos_ids() const;
  size_t vocab_size() const;  // max id + 1 over the model vocabulary and the added tokens

 private:
  explicit Tokenizer(std::shared_ptr<const TokenizerImpl> impl) : impl_(std::move(impl)) {}
  friend class DecodeStream;
  std::shared_ptr<const TokenizerImpl> impl_;
};

}  // namespace pagedkv
