#pragma once
// The BPE "model" of a tokenizer.json: vocabulary, merges in rank order, unk / byte fallback,
// ignore_merges, and a cache of word results. tokenize() is HF tokenizers' Word::merge_all: a
// binary heap of candidate merges ordered by (rank, position), stale entries skipped when the pair
// at their position no longer produces their token; O(n log n) in the word length.
//
// Byte-level vocabularies (GPT-2 alphabet, see byte_level.h) are re-keyed by raw bytes at load
// time, so words are tokenized straight from the text's bytes.

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pair_map.h"

namespace pagedkv {

// Heterogeneous lookup (string_view keys without building a std::string).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringIdMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // spec: the tokenizer.json "model" object (type "BPE"). byte_level: the pre-tokenizer ends in
  // ByteLevel, so words arrive as raw bytes.
  BpeModel(const nlohmann::json& spec, bool byte_level);
  ~BpeModel();

  // Appends the ids of one word (a pre-token).
  void tokenize(std::string_view word, std::vector<int32_t>& out) const;

  size_t vocab_size() const { return id_to_token_.size(); }  // max id + 1
  // The vocabulary string of id ("" for a hole in the id range).
  const std::string& token(int32_t id) const { return id_to_token_[static_cast<size_t>(id)]; }
  std::optional<int32_t> id(std::string_view token) const;
  size_t num_merges() const { return merges_.size(); }

 private:
  struct Symbol {
    int32_t id;
    int32_t prev, next;  // neighbours in the word (-1: none)
    int32_t len;         // bytes covered; 0 once merged into the left neighbour
  };
  void initial_symbols(std::string_view word, std::vector<Symbol>& symbols) const;
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;

  std::vector<std::string> id_to_token_;
  StringIdMap token_to_id_;  // the file's token strings
  StringIdMap word_to_id_;   // byte-level: raw-byte forms; otherwise empty (use token_to_id_)
  std::array<int32_t, 256> byte_id_{};  // byte-level: id of each byte; else <0xXX> fallback ids
  PairMap merges_;
  bool byte_level_ = false;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  int32_t unk_id_ = -1;

  // Word -> ids cache (HF keeps one too). Bounded: once full, new words are not cached.
  static constexpr size_t kCacheCapacity = 1 << 16;
  static constexpr size_t kMaxCachedWord = 256;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace pagedkv
