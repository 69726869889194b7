#pragma once
// The "added_tokens" of a tokenizer.json: strings matched in the text before the model runs and
// never split (special tokens such as <|eot_id|>, and non-special ones such as Qwen's <think>).
// Matching is HF's: leftmost-longest over all added tokens; tokens with normalized=false are
// matched in the raw text, those with normalized=true in the normalized text; lstrip / rstrip
// swallow the whitespace on that side, single_word requires non-word neighbours.

#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pagedkv {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false, rstrip = false, single_word = false, normalized = false;
};

// A piece of the input: an added token (id >= 0) or text for the model (id == -1).
struct Segment {
  size_t begin, end;
  int32_t id;
};

class AddedVocabulary {
 public:
  AddedVocabulary() = default;
  explicit AddedVocabulary(const nlohmann::json& added_tokens);

  // Splits text into segments (replacing out's contents); empty text gives none. parse_special =
  // false leaves special tokens in the text (HF's encode_special_tokens = true); non-special added
  // tokens are still matched. normalized selects the tokens with normalized=true (matched after
  // normalization).
  void split(std::string_view text, bool normalized, bool parse_special,
             std::vector<Segment>& out) const;

  bool has_normalized_tokens() const { return !normalized_.tokens.empty(); }
  const AddedToken* find(int32_t id) const;
  std::optional<int32_t> id(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  int32_t max_id() const { return max_id_; }

 private:
  // A byte trie over one set of token contents; node 0 is the root.
  struct Trie {
    std::vector<int32_t> tokens;  // indexes into tokens_ (for emptiness)
    std::vector<std::unordered_map<unsigned char, int32_t>> children{1};
    std::vector<int32_t> terminal{-1};   // per node: index into tokens_ or -1
    std::array<bool, 256> first_byte{};  // bytes that can start a match
    void insert(std::string_view s, int32_t token_index);
    // Longest token starting at text[pos]: (token index, length) or (-1, 0).
    std::pair<int32_t, size_t> longest_at(std::string_view text, size_t pos) const;
  };

  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::unordered_map<std::string, int32_t> by_content_;
  Trie raw_, normalized_;
  int32_t max_id_ = -1;
};

}  // namespace pagedkv
