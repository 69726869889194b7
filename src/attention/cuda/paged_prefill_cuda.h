#pragma once
// Paged prefill attention on NVIDIA GPUs (../shared/DESIGN.md §6): every query row of a prefill
// chunk attends to the keys its layer's AttentionRule makes visible — causal within full, sliding
// or chunked attention — read in place from the pool through its sequence's block list, so
// earlier blocks (prefix-cache hits, earlier chunks of a chunked prefill) are never copied. Rows
// of several sequences go in one launch (one sequence's rows are consecutive positions).
//
// Numerics as the decode contract (§3): f32 accumulation and online softmax; the result depends
// only on the stored values, never on where the blocks lie (placement invariance, bit for bit).
//
// Two steps, like the decode kernel (paged_decode_cuda.h):
//   plan (host): validates the shape (clear error for unsupported head dims / dtypes) and fixes
//                the grid from the longest sequence's rows;
//   run  (async on a stream, capturable): launches; no allocation, no host synchronisation.
//
// The kernel (paged_prefill_mma.cuh; docs/attention.md): FlashAttention-2 on tensor cores
// (mma.m16n8k16, f32 accumulation, sm_80 instructions only). A CTA of 4 warps takes 64 packed
// rows of one sequence and one kv head, row = (token, query head of the GQA group), so each K/V
// tile it streams from the pool (cp.async, 16-byte copies, every key row addressed through the
// block list) serves the whole group. Key tiles of 64 (32 at head dim 256) keys, 2-3 stages.
// Supported: head dims 64, 128, 256; q / out bf16 or f16; KV in q's dtype or fp8 e4m3 (per-tensor
// or per-kv-head scales); GQA ratio 1..16; block sizes 1..256 (powers of two).
//
// Cost: a CTA reads the keys its 64 rows see, [visible_begin(p_first + 1), p_last]: about
// (64 / G + W) keys for a sliding window W or chunk, all earlier keys for full attention, so a
// launch reads O(T * G / 64 * L) K/V rows (mostly from L2: the CTAs of one sequence and kv head
// read the same blocks) and does 4 * D * Hq * (keys each row sees) flops, causal tiles skipped per
// warp. Why this shape: packing the group into the rows makes K/V traffic independent of G, and
// reading blocks in place means prefix-cache hits and earlier chunks cost no copy.
// Bit-exactness: a row's output depends only on its visible keys (tiles aligned to absolute
// positions, invisible tiles exact no-ops), so a chunked prefill gives the same bits as a whole
// one, and any block placement the same bits as any other.

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"
#include "kv/attention_rule.h"
#include "kv/kv_view.h"

namespace pagedkv {

struct PagedPrefillCudaShape {
  int32_t num_q_heads = 0;        // Hq, a multiple of num_kv_heads
  int32_t num_kv_heads = 0;       // Hkv
  int32_t head_dim = 0;           // 64, 128 or 256
  DType q_dtype = DType::kBF16;   // bf16 or f16 (also the output's)
  DType kv_dtype = DType::kBF16;  // q's dtype, or fp8 e4m3 (per-tensor scales)
  int32_t num_seqs = 0;           // S >= 1
  int32_t max_seq_rows = 0;       // most query rows of one sequence (sizes the grid)
};

struct PagedPrefillCudaPlan {
  PagedPrefillCudaShape shape;
  dim3 grid;
  int32_t threads = 0;
  size_t smem_bytes = 0;
};

// All pointers device pointers. Sequence s owns query rows [q_indptr[s], q_indptr[s + 1]) at
// positions q_pos[s], q_pos[s] + 1, ...; its blocks kv_indices[kv_indptr[s] .. kv_indptr[s + 1])
// hold positions from kv_base[s] on (slot 0 of its first block; a multiple of the block size).
// The query at position p sees keys [rule.visible_begin(p + 1), p]; the caller guarantees the
// blocks cover that range for every row (the kernel does not check on the device; it never reads
// outside the listed blocks, so a short table gives zeros there, not a fault). Every sequence
// must have at most plan.shape.max_seq_rows rows (rows beyond the grid are not computed).
struct PagedPrefillCudaParams {
  const void* q = nullptr;             // [T, Hq, D]
  int32_t num_tokens = 0;              // T (host-visible), >= 1
  const int32_t* q_indptr = nullptr;   // [S + 1]
  const int32_t* q_pos = nullptr;      // [S]
  KvLayerView kv;                      // the layer's pool (16-byte aligned rows, blocks < 4 GiB)
  const int32_t* kv_indptr = nullptr;  // [S + 1]
  const int32_t* kv_indices = nullptr;
  const int32_t* kv_base = nullptr;  // [S]
  AttentionRule rule;
  float scale = 0.0f;    // logit scale
  float softcap = 0.0f;  // > 0: s = softcap * tanh(s / softcap)
  void* out = nullptr;   // [T, Hq, D] in q's dtype
};

PagedPrefillCudaPlan plan_paged_prefill_cuda(const PagedPrefillCudaShape& shape);

// Validates what the host can see (shape against the plan, pointers, rule, view geometry),
// then launches.
void paged_prefill_cuda(const PagedPrefillCudaPlan& plan, const PagedPrefillCudaParams& params,
                        cudaStream_t stream);

}  // namespace pagedkv
