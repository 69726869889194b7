// Host side of the paged prefill kernel: shape validation, the plan (kernel, grid, shared memory),
// run-time checks and the launch. The kernels are instantiated in
// paged_prefill_cuda_{bf16,f16,fp8}.cu; this file finds them through their tables
// (prefill_kernel_args.h) and holds no device code.

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <cstdint>

#include "attention/cuda/head_dim.h"
#include "attention/cuda/paged_prefill_cuda.h"
#include "attention/cuda/prefill_kernel_args.h"
#include "core/cuda/cuda_check.h"
#include "core/error.h"

namespace pagedkv {
namespace {

using cuda_detail::PrefillKernelArgs;
using cuda_detail::PrefillKernelEntry;
using cuda_detail::PrefillKernelTable;

// Query heads per kv head the kernel is built and tested for (Llama 3 to Qwen 3 235B: 1..16).
constexpr int kMaxGroup = 16;

const PrefillKernelTable& table_for(DType q, DType kv) {
  if (kv == DType::kFP8E4M3)
    return q == DType::kBF16 ? cuda_detail::prefill_kernels_fp8_bf16()
                             : cuda_detail::prefill_kernels_fp8_f16();
  return q == DType::kBF16 ? cuda_detail::prefill_kernels_bf16()
                           : cuda_detail::prefill_kernels_f16();
}

// Everything about a shape that needs no device; throws naming the first bad value.
void validate_shape(const PagedPrefillCudaShape& s) {
  PKV_CHECK(s.num_kv_heads >= 1 && s.num_kv_heads <= 65535, InvalidArgument,
            "paged_prefill_cuda: num_kv_heads ", s.num_kv_heads, " out of range [1, 65535]");
  PKV_CHECK(s.num_q_heads >= s.num_kv_heads && s.num_q_heads % s.num_kv_heads == 0, InvalidArgument,
            "paged_prefill_cuda: num_q_heads ", s.num_q_heads,
            " must be a positive multiple of num_kv_heads ", s.num_kv_heads);
  const int group = s.num_q_heads / s.num_kv_heads;
  PKV_CHECK(group <= kMaxGroup, Unsupported, "paged_prefill_cuda: GQA ratio ", group, " (",
            s.num_q_heads, " / ", s.num_kv_heads, " heads) is not supported (1..", kMaxGroup, ")");
  (void)gpu_head_dim_index(s.head_dim, "paged_prefill_cuda");
  PKV_CHECK(s.q_dtype == DType::kBF16 || s.q_dtype == DType::kF16, Unsupported,
            "paged_prefill_cuda: q dtype ", dtype_name(s.q_dtype), " is not supported (bf16, f16)");
  PKV_CHECK(s.kv_dtype == s.q_dtype || s.kv_dtype == DType::kFP8E4M3, Unsupported,
            "paged_prefill_cuda: KV dtype ", dtype_name(s.kv_dtype), " with q dtype ",
            dtype_name(s.q_dtype), " is not supported (KV in q's dtype, or fp8_e4m3)");
  PKV_CHECK(s.num_seqs >= 1 && s.num_seqs <= 65535, InvalidArgument,
            "paged_prefill_cuda: num_seqs ", s.num_seqs, " out of range [1, 65535]");
  PKV_CHECK(s.max_seq_rows >= 1 && int64_t(s.max_seq_rows) * group <= INT32_MAX, InvalidArgument,
            "paged_prefill_cuda: max_seq_rows ", s.max_seq_rows,
            " must be >= 1 (and times the GQA ratio ", group, " < 2^31)");
}

PrefillKernelEntry kernel_for(const PagedPrefillCudaShape& s) {
  return table_for(s.q_dtype, s.kv_dtype)
      .dims[gpu_head_dim_index(s.head_dim, "paged_prefill_cuda")];
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

PagedPrefillCudaPlan plan_paged_prefill_cuda(const PagedPrefillCudaShape& shape) {
  validate_shape(shape);  // before the device is touched: the same errors with or without a GPU
  const PrefillKernelEntry k = kernel_for(shape);
  const int64_t group = shape.num_q_heads / shape.num_kv_heads;
  const int64_t tiles = (int64_t(shape.max_seq_rows) * group + k.rows_per_cta - 1) / k.rows_per_cta;
  cuda_check(cudaFuncSetAttribute(k.fn, cudaFuncAttributeMaxDynamicSharedMemorySize, k.smem),
             "paged_prefill_cuda: cudaFuncSetAttribute(", k.smem, " bytes of shared memory)");
  PagedPrefillCudaPlan p;
  p.shape = shape;
  p.grid = dim3(unsigned(tiles), unsigned(shape.num_kv_heads), unsigned(shape.num_seqs));
  p.threads = k.threads;
  p.smem_bytes = size_t(k.smem);
  return p;
}

void paged_prefill_cuda(const PagedPrefillCudaPlan& plan, const PagedPrefillCudaParams& p,
                        cudaStream_t stream) {
  const PagedPrefillCudaShape& s = plan.shape;
  validate_shape(s);
  const PrefillKernelEntry k = kernel_for(s);
  PKV_CHECK(plan.threads == k.threads && plan.smem_bytes == size_t(k.smem) &&
                plan.grid.y == unsigned(s.num_kv_heads) && plan.grid.z == unsigned(s.num_seqs) &&
                plan.grid.x >= 1,
            InvalidArgument,
            "paged_prefill_cuda: the plan does not come from "
            "plan_paged_prefill_cuda for its shape");
  const KvLayerView& kv = p.kv;
  PKV_CHECK(p.q != nullptr, InvalidArgument, "paged_prefill_cuda: q is null");
  PKV_CHECK(p.out != nullptr, InvalidArgument, "paged_prefill_cuda: out is null");
  PKV_CHECK(kv.k != nullptr && kv.v != nullptr, InvalidArgument,
            "paged_prefill_cuda: K or V pool pointer is null");
  PKV_CHECK(p.q_indptr && p.q_pos && p.kv_indptr && p.kv_indices && p.kv_base, InvalidArgument,
            "paged_prefill_cuda: a table pointer is null (q_indptr, q_pos, kv_indptr, "
            "kv_indices, kv_base)");
  PKV_CHECK(aligned16(p.q) && aligned16(p.out), InvalidArgument,
            "paged_prefill_cuda: q and out must be 16-byte aligned");
  PKV_CHECK(p.num_tokens >= 1, InvalidArgument, "paged_prefill_cuda: num_tokens ", p.num_tokens,
            " must be >= 1");
  PKV_CHECK((p.rule.kind == AttentionKind::kFull ||
             (p.rule.kind == AttentionKind::kSliding && p.rule.window >= 1) ||
             (p.rule.kind == AttentionKind::kChunked && p.rule.chunk >= 1)),
            InvalidArgument, "paged_prefill_cuda: bad attention rule ", p.rule.describe(),
            " (kind ", int(p.rule.kind), ", window ", p.rule.window, ", chunk ", p.rule.chunk,
            "; sliding needs window >= 1, chunked chunk >= 1)");
  PKV_CHECK(std::isfinite(p.scale) && p.scale > 0.f, InvalidArgument, "paged_prefill_cuda: scale ",
            p.scale, " must be finite and > 0");
  PKV_CHECK(std::isfinite(p.softcap) && p.softcap >= 0.f, InvalidArgument,
            "paged_prefill_cuda: softcap ", p.softcap, " must be finite and >= 0 (0 = off)");
  PKV_CHECK(
      kv.num_kv_heads == s.num_kv_heads && kv.head_dim == s.head_dim && kv.dtype == s.kv_dtype,
      InvalidArgument, "paged_prefill_cuda: KV view (Hkv=", kv.num_kv_heads, " D=", kv.head_dim,
      " ", dtype_name(kv.dtype), ") does not match the plan (Hkv=", s.num_kv_heads,
      " D=", s.head_dim, " ", dtype_name(s.kv_dtype), ")");
  PKV_CHECK(
      kv.block_size >= 1 && kv.block_size <= 256 && std::has_single_bit(unsigned(kv.block_size)),
      InvalidArgument, "paged_prefill_cuda: block_size ", kv.block_size,
      " must be a power of two in [1, 256]");
  PKV_CHECK(kv.num_blocks >= 1, InvalidArgument, "paged_prefill_cuda: empty pool (num_blocks ",
            kv.num_blocks, ")");
  const int64_t es = int64_t(dtype_size(kv.dtype));
  const int64_t chunk = 16 / es;  // elements per 16-byte copy: every row start must be aligned
  PKV_CHECK(kv.stride_block % chunk == 0 && kv.stride_token % chunk == 0 &&
                kv.stride_head % chunk == 0 && kv.stride_head >= kv.head_dim && aligned16(kv.k) &&
                aligned16(kv.v),
            InvalidArgument,
            "paged_prefill_cuda: K/V pointers and strides must be 16-byte "
            "aligned (strides ",
            kv.stride_block, ", ", kv.stride_token, ", ", kv.stride_head, ")");
  // Row offsets come from unsigned 32-bit factors (one wide multiply-add each), so a block and
  // a token record must each span < 4 GiB.
  PKV_CHECK(kv.stride_block >= 0 && kv.stride_token >= 0 && kv.stride_head >= 0 &&
                kv.stride_block * es <= int64_t(UINT32_MAX) &&
                kv.stride_token * es <= int64_t(UINT32_MAX),
            InvalidArgument, "paged_prefill_cuda: a block (", kv.stride_block * es,
            " bytes) and a token record (", kv.stride_token * es,
            " bytes) must each be non-negative and < 4 GiB");
  const bool fp8 = kv.dtype == DType::kFP8E4M3;
  if (fp8) {
    PKV_CHECK(std::isfinite(kv.k_scale) && std::isfinite(kv.v_scale), InvalidArgument,
              "paged_prefill_cuda: fp8 KV scales must be finite (k_scale ", kv.k_scale,
              ", v_scale ", kv.v_scale, ")");
  }

  PrefillKernelArgs a{};
  a.q = p.q;
  a.out = p.out;
  a.k = static_cast<const uint8_t*>(kv.k);
  a.v = static_cast<const uint8_t*>(kv.v);
  a.block_bytes = uint32_t(kv.stride_block * es);
  a.token_bytes = uint32_t(kv.stride_token * es);
  a.head_bytes = uint64_t(kv.stride_head * es);
  a.block_shift = std::countr_zero(unsigned(kv.block_size));
  a.q_indptr = p.q_indptr;
  a.q_pos = p.q_pos;
  a.kv_indptr = p.kv_indptr;
  a.kv_indices = p.kv_indices;
  a.kv_base = p.kv_base;
  a.num_q_heads = s.num_q_heads;
  a.group = s.num_q_heads / s.num_kv_heads;
  // Windows and chunks past 2^31 positions act as full attention on int32 positions.
  switch (p.rule.kind) {
    case AttentionKind::kSliding:
      a.rule = cuda_detail::kRuleSliding;
      a.rule_param = int32_t(std::min<int64_t>(p.rule.window, INT32_MAX));
      break;
    case AttentionKind::kChunked:
      a.rule = cuda_detail::kRuleChunked;
      a.rule_param = int32_t(std::min<int64_t>(p.rule.chunk, INT32_MAX));
      break;
    default:
      a.rule = cuda_detail::kRuleFull;
      a.rule_param = 1;
  }
  a.scale = p.scale;
  a.softcap = p.softcap;
  a.k_scale = fp8 ? kv.k_scale : 1.f;
  a.v_scale = fp8 ? kv.v_scale : 1.f;
  a.k_head_scale = fp8 ? kv.k_head_scale : nullptr;
  a.v_head_scale = fp8 ? kv.v_head_scale : nullptr;
  k.launch(plan.grid, k.smem, stream, a);
  cuda_check(cudaGetLastError(), "paged_prefill_cuda: kernel launch");
}

}  // namespace pagedkv
