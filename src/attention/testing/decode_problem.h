#pragma once
// Random decode problems for tests (CPU and CUDA): a query batch, one layer's K/V pool and CSR
// page lists whose blocks are scattered over the pool (shuffled table), with partial first and
// last blocks. All storage is host memory owned here; params() points DecodeParams at it.
// CUDA tests copy q / pool / page list to the device and patch the pointers.

#include <cstdint>
#include <vector>

#include "attention/decode_params.h"
#include "core/aligned_buffer.h"
#include "core/random.h"
#include "kv/attention_rule.h"

namespace pagedkv::testing {

struct DecodeProblemSpec {
  std::vector<int32_t> visible_len;   // [B] visible tokens per sequence, each >= 1
  std::vector<int32_t> first_offset;  // [B] slot of the first visible token; empty = random
  int32_t num_q_heads = 8;
  int32_t num_kv_heads = 2;
  int32_t head_dim = 128;
  int32_t block_size = 16;
  DType q_dtype = DType::kF32;
  DType kv_dtype = DType::kF32;
  float softcap = 0.0f;        // 0 = off
  bool sinks = false;          // random per-head sink logits
  bool shuffle_blocks = true;  // false: identity table (sequence blocks laid out in order)
  int32_t spare_blocks = 3;    // extra pool blocks no sequence uses (filled with noise)
  float qk_stddev = 1.0f;      // spread of q and K values (bigger = peakier softmax)
};

// The visible range the cache would hand the kernel for a sequence of len tokens under a rule
// (kv/attention_rule.h), as [start, start + count).
struct VisibleRange {
  int32_t start = 0;
  int32_t count = 0;
};
VisibleRange visible_range(const AttentionRule& rule, int32_t len);

// Random lengths in [1, max_len] for B sequences (log-uniform), always including max_len and,
// when B >= 2, 1.
std::vector<int32_t> random_lengths(Rng& rng, int32_t batch, int32_t max_len);

class DecodeProblem {
 public:
  DecodeProblem(const DecodeProblemSpec& spec, Rng& rng);

  const DecodeProblemSpec& spec() const { return spec_; }
  int32_t batch() const { return int32_t(spec_.visible_len.size()); }
  int32_t num_blocks() const { return num_blocks_; }
  size_t out_elements() const { return size_t(batch()) * spec_.num_q_heads * spec_.head_dim; }

  // A DecodeParams over this problem's storage, writing into out() / lse().
  DecodeParams params();

  // Page list (mutable: tests redirect blocks to build shared-prefix or bad tables).
  std::vector<int32_t>& indptr() { return indptr_; }
  std::vector<int32_t>& indices() { return indices_; }
  std::vector<int32_t>& first_offset() { return first_offset_; }
  std::vector<int32_t>& visible_len() { return visible_len_; }

  // Raw storage. Pool elements: [num_blocks, block_size, Hkv, D] in kv_dtype.
  AlignedBuffer& k_pool() { return k_; }
  AlignedBuffer& v_pool() { return v_; }
  const AlignedBuffer& k_pool() const { return k_; }
  const AlignedBuffer& v_pool() const { return v_; }
  AlignedBuffer& q() { return q_; }               // [B, Hq, D] in q_dtype
  AlignedBuffer& out() { return out_; }           // [B, Hq, D] in q_dtype
  std::vector<float>& lse() { return lse_; }      // [B, Hq]
  std::vector<float>& sinks() { return sinks_; }  // [Hq] (empty when off)
  size_t block_bytes() const;                     // bytes of one block of K (or V)

  // Copies block `src` onto block `dst` in both K and V.
  void copy_block(int32_t src, int32_t dst);

  // The same logical problem with blocks moved: physical block i goes to new_id[i] (a
  // permutation of [0, num_blocks)). Page list rewritten accordingly; q, sinks identical.
  DecodeProblem relocated(const std::vector<int32_t>& new_id) const;

  // Fills out (and lse) with a recognisable pattern, to check a call left them untouched.
  void poison_outputs();
  bool outputs_poisoned() const;

 private:
  DecodeProblem() = default;

  DecodeProblemSpec spec_;
  int32_t num_blocks_ = 0;
  AlignedBuffer q_, k_, v_, out_;
  std::vector<float> lse_, sinks_;
  std::vector<int32_t> indptr_, indices_, first_offset_, visible_len_;
};

// ‖out − ref‖ / ‖ref‖ over n elements of a host buffer of dtype t; NaN anywhere gives +inf.
double relative_error(const void* out, DType t, const std::vector<double>& ref);
// Same for an f32 array (e.g. lse).
double relative_error(const float* out, const std::vector<double>& ref);
// Largest absolute difference of an f32 array vs ref (lse is better compared absolutely).
double max_abs_error(const float* out, const std::vector<double>& ref);

// DESIGN §3 bound for a q/out dtype: f32 1e-5, f16 2e-3, bf16 1e-2.
double decode_error_bound(DType out_dtype, DType kv_dtype);

}  // namespace pagedkv::testing
