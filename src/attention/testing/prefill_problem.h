#pragma once
// Random paged prefill problems for tests: several sequences of query rows (consecutive
// positions, possibly after a cached prefix), one layer's K/V pool with every slot filled (noise
// where no row looks) and per-sequence block lists scattered over the pool, the layer's
// AttentionRule. The pool and its block placement come from DecodeProblem; the oracle is the f64
// decode reference applied per row: the row at position p is a one-query decode over its visible
// range [rule.visible_begin(p + 1), p], read through the sequence's blocks. Host memory only;
// CUDA tests mirror it on the device (attention/cuda/testing/prefill_device_run.h).

#include <cstdint>
#include <string>
#include <vector>

#include "attention/testing/decode_problem.h"
#include "core/aligned_buffer.h"
#include "core/random.h"
#include "kv/attention_rule.h"
#include "kv/kv_view.h"

namespace pagedkv::testing {

struct PrefillSeqSpec {
  int32_t rows = 1;      // query rows, >= 1
  int32_t q_pos = 0;     // position of the first row (> 0: earlier keys are a cached prefix)
  int32_t kv_base = -1;  // position of slot 0 of the first listed block (a multiple of the block
                         // size, <= the first visible key); -1: the block of the first visible key
};

struct PrefillProblemSpec {
  std::vector<PrefillSeqSpec> seqs;
  AttentionRule rule;
  int32_t num_q_heads = 8;
  int32_t num_kv_heads = 2;
  int32_t head_dim = 128;
  int32_t block_size = 16;
  DType q_dtype = DType::kBF16;  // also the output's
  DType kv_dtype = DType::kBF16;
  float softcap = 0.f;
  float k_scale = 1.f, v_scale = 1.f;             // fp8 only
  std::vector<float> k_head_scale, v_head_scale;  // fp8 only: [Hkv] per-head scales, or empty
  bool shuffle_blocks = true;                     // false: identity table
  int32_t spare_blocks = 3;                       // pool blocks no sequence lists (noise)
  float qk_stddev = 1.f;                          // spread of q and K (bigger: peakier softmax)
};

std::string describe(const PrefillProblemSpec& spec);

class PrefillProblem {
 public:
  PrefillProblem(const PrefillProblemSpec& spec, Rng& rng);

  const PrefillProblemSpec& spec() const { return spec_; }
  int32_t num_seqs() const { return int32_t(q_pos_.size()); }
  int32_t num_tokens() const { return q_indptr_.back(); }
  int32_t max_seq_rows() const;
  float scale() const;
  size_t out_bytes() const;  // [T, Hq, D] in q's dtype

  // Tables (mutable: tests re-cut sequences or redirect blocks; reference() follows them).
  std::vector<int32_t>& q_indptr() { return q_indptr_; }    // [S + 1]
  std::vector<int32_t>& q_pos() { return q_pos_; }          // [S]
  std::vector<int32_t>& kv_indptr() { return kv_indptr_; }  // [S + 1]
  std::vector<int32_t>& kv_indices() { return kv_indices_; }
  std::vector<int32_t>& kv_base() { return kv_base_; }  // [S]
  const std::vector<int32_t>& q_indptr() const { return q_indptr_; }
  const std::vector<int32_t>& q_pos() const { return q_pos_; }
  const std::vector<int32_t>& kv_indptr() const { return kv_indptr_; }
  const std::vector<int32_t>& kv_indices() const { return kv_indices_; }
  const std::vector<int32_t>& kv_base() const { return kv_base_; }
  AlignedBuffer& q() { return q_; }  // [T, Hq, D] in q_dtype
  const AlignedBuffer& q() const { return q_; }
  DecodeProblem& pool() { return pool_; }  // K/V storage (its own page lists are not used)
  const DecodeProblem& pool() const { return pool_; }

  // The pool as a view over host memory, with the spec's fp8 scales.
  KvLayerView kv_view() const;

  // First visible key of the row at position p.
  int64_t visible_begin(int64_t p) const { return spec_.rule.visible_begin(p + 1); }

  // f64 reference [T, Hq, D] from the current tables (rows in parallel threads).
  std::vector<double> reference() const;

  // Writes NaN into K and V of every pool slot that no row of the current tables may see
  // (unused block tails, slots before a window, spare blocks, unlisted blocks).
  void poison_invisible_slots();

  // The same problem with pool block i moved to new_id[i] (a permutation); tables rewritten.
  PrefillProblem relocated(const std::vector<int32_t>& new_id) const;
  PrefillProblem clone() const;
  // A permutation that lays the listed blocks out in table order (first use), then the rest.
  std::vector<int32_t> contiguous_order() const;

 private:
  PrefillProblem(const PrefillProblemSpec& spec, DecodeProblem pool);

  PrefillProblemSpec spec_;
  DecodeProblem pool_;
  AlignedBuffer q_;
  std::vector<int32_t> q_indptr_, q_pos_, kv_indptr_, kv_indices_, kv_base_;
};

// Worst per-row relative error ‖out − ref‖ / ‖ref‖ over rows of D elements (row = one (token,
// query head)); a non-finite output element makes its row's error +inf.
struct RowError {
  double worst = 0.0;
  int64_t token = -1, head = -1;
  std::string where() const;
};
RowError worst_row_error(const void* out, DType out_dtype, const std::vector<double>& ref,
                         int32_t num_q_heads, int32_t head_dim);

// The bound a prefill row is held to (DESIGN §3 by output dtype: f16 2e-3, bf16 1e-2; fp8 KV
// the same, since e4m3 -> f16 operands is exact and the reference reads the dequantized values).
double prefill_error_bound(DType q_dtype, DType kv_dtype);

}  // namespace pagedkv::testing
