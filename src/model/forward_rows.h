#pragma once
// ForwardRows: the rows one forward pass computes — one sequence's consecutive positions (a
// prefill chunk) or one position per sequence (a decode step) — and the checks that build them,
// shared by the CPU and CUDA models. Every check runs before the cache is touched, so a bad call
// leaves it as it was.

#include <cstdint>
#include <span>
#include <vector>

#include "kv/kv_cache.h"
#include "model/model_config.h"

namespace pagedkv {

struct ForwardRows {
  bool prefill = false;      // true: one sequence's consecutive positions; false: decode
  std::vector<SeqId> seq;    // [R] sequence of each row
  std::vector<int64_t> pos;  // [R] position of each row
  int64_t size() const { return int64_t(pos.size()); }
};

// Prefill rows of seq: appends the tokens first (with their ids when the prefix cache is on).
ForwardRows append_prefill_rows(const ModelConfig& c, KvCache& cache, SeqId seq,
                                std::span<const int32_t> tokens);
// Prefill rows for positions [start, start + T) already appended (KvCache::add_prompt appends a
// whole prompt at admission, reusing cached blocks; the engine computes the rest in chunks).
ForwardRows appended_prefill_rows(const ModelConfig& c, const KvCache& cache, SeqId seq,
                                  int64_t start, std::span<const int32_t> tokens);
// Decode rows: one new token per sequence (each with >= 1 cached token, none twice), appended all
// or nothing (KvCache::blocks_for_decode must fit).
ForwardRows append_decode_rows(const ModelConfig& c, KvCache& cache, std::span<const SeqId> seqs,
                               std::span<const int32_t> tokens);

}  // namespace pagedkv
