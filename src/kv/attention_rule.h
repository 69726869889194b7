#pragma once
// AttentionRule: which cached positions a query may see — full, sliding window W, or chunked C
// (../shared/DESIGN.md §3) — and which positions a sequence must keep cached. The one home of
// these rules: block tables release blocks by it, the attention kernels take it as plain data
// (they do not decide visibility themselves), and the model config gives one per layer.
//
// Two rules per kind, both on token positions:
// - visible range of the query at position len - 1 (len tokens cached, the query included):
//     full [0, len), sliding [max(0, len - W), len), chunked [((len - 1) / C) * C, len).
// - retained range before the token at position n is appended (n tokens cached): everything the
//   query at n or any later query can still see starts at
//     full 0, sliding max(0, n + 1 - W), chunked (n / C) * C,
//   and blocks wholly before that start are released to the pool. With bs = 2, W = 4: n = 4
//   keeps every block, n = 5 releases block 0, n = 7 blocks 0-1, n = 11 blocks 0-3.

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "core/error.h"

namespace pagedkv {

enum class AttentionKind : uint8_t { kFull, kSliding, kChunked };

inline const char* attention_kind_name(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::kFull:
      return "full";
    case AttentionKind::kSliding:
      return "sliding";
    case AttentionKind::kChunked:
      return "chunked";
  }
  return "?";
}

// The attention rule of a group, without its layer list (what a block table needs).
struct AttentionRule {
  AttentionKind kind = AttentionKind::kFull;
  int64_t window = 0;  // sliding: keys seen by a query, itself included (HF sliding_window)
  int64_t chunk = 0;   // chunked: attention_chunk_size

  static AttentionRule full() { return {}; }
  static AttentionRule sliding(int64_t w) { return {AttentionKind::kSliding, w, 0}; }
  static AttentionRule chunked(int64_t c) { return {AttentionKind::kChunked, 0, c}; }
  bool operator==(const AttentionRule&) const = default;

  void validate() const {
    PKV_CHECK(kind != AttentionKind::kSliding || window >= 1, InvalidArgument,
              "sliding window must be >= 1, got ", window);
    PKV_CHECK(kind != AttentionKind::kChunked || chunk >= 1, InvalidArgument,
              "attention chunk size must be >= 1, got ", chunk);
  }

  // First visible position for the query at position len - 1 (len >= 1).
  int64_t visible_begin(int64_t len) const {
    switch (kind) {
      case AttentionKind::kFull:
        return 0;
      case AttentionKind::kSliding:
        return std::max<int64_t>(0, len - window);
      case AttentionKind::kChunked:
        return ((len - 1) / chunk) * chunk;
    }
    return 0;
  }

  // First position that must stay cached before the token at position n is appended.
  int64_t retained_begin(int64_t n) const {
    switch (kind) {
      case AttentionKind::kFull:
        return 0;
      case AttentionKind::kSliding:
        return std::max<int64_t>(0, n + 1 - window);
      case AttentionKind::kChunked:
        return (n / chunk) * chunk;
    }
    return 0;
  }

  // Logical blocks [first, second) that must be cached for a prefix-cache hit of len tokens
  // (len a multiple of bs): what the rule retains before position len is appended.
  std::pair<int64_t, int64_t> hit_blocks(int64_t len, int64_t bs) const {
    return {std::min(retained_begin(len) / bs, len / bs), len / bs};
  }

  std::string describe() const {
    switch (kind) {
      case AttentionKind::kFull:
        return "full";
      case AttentionKind::kSliding:
        return str_cat("sliding(W=", window, ")");
      case AttentionKind::kChunked:
        return str_cat("chunked(C=", chunk, ")");
    }
    return "?";
  }
};

}  // namespace pagedkv
