// Host side of the fused paged decode kernel: the plan (kernel, layout, split count, workspace),
// validation and the launch. The kernels are instantiated in paged_decode_cuda_{bf16,f16,fp8}.cu
// and paged_decode_cuda_simt_{bf16,f16,fp8}.cu; this file finds them through their tables
// (decode_kernel_table.h) and holds no device code.

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>

#include "attention/cuda/decode_kernel_table.h"
#include "attention/cuda/head_dim.h"
#include "attention/cuda/paged_decode_cuda.h"
#include "core/cuda/cuda_check.h"
#include "core/error.h"

namespace pagedkv {
namespace {

using cuda_detail::DecodeKernelTable;
using cuda_detail::KernelArgs;
using cuda_detail::KernelEntry;

size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

// Workspace layout: counters, then partial outputs, then partial lse.
struct WorkspaceLayout {
  size_t counters = 0, part_o = 0, part_lse = 0, total = 0;
};
WorkspaceLayout layout_for(const PagedDecodeCudaPlan& p) {
  const auto& s = p.shape;
  WorkspaceLayout w;
  w.counters = 0;
  w.part_o = align_up(sizeof(int32_t) * size_t(s.batch_size) * s.num_kv_heads * p.head_groups, 256);
  const size_t rows = size_t(s.batch_size) * s.num_q_heads * p.num_splits;
  w.part_lse = w.part_o + align_up(sizeof(float) * rows * s.head_dim, 256);
  w.total = w.part_lse + align_up(sizeof(float) * rows, 256);
  if (p.num_splits == 1) w.total = w.part_o;  // no partials: only the (unused) counters
  return w;
}

// Which kernel family serves a (q dtype, KV dtype) pair: tensor cores when q can be an MMA
// operand without rounding (bf16 q with bf16 KV; f16 q with f16 KV; bf16 or f16 q with fp8 KV,
// which runs as f16: e4m3 and bf16 values of normal range are exact in f16), else CUDA cores.
enum class Family { kSimt, kMmaBF16, kMmaF16 };
Family family_for(DType q, DType kv) {
  if (q == DType::kBF16 && kv == DType::kBF16) return Family::kMmaBF16;
  if (q == DType::kF16 && kv == DType::kF16) return Family::kMmaF16;
  if ((q == DType::kBF16 || q == DType::kF16) && kv == DType::kFP8E4M3) return Family::kMmaF16;
  return Family::kSimt;
}

// The table of the kernels that serve (q dtype, KV dtype).
const DecodeKernelTable& table_for(DType q, DType kv) {
  switch (family_for(q, kv)) {
    case Family::kMmaBF16:
      return cuda_detail::mma_kernels_bf16();
    case Family::kMmaF16:
      return kv == DType::kF16 ? cuda_detail::mma_kernels_f16() : cuda_detail::mma_kernels_fp8();
    default:
      switch (kv) {
        case DType::kBF16:
          return cuda_detail::simt_kernels_bf16();
        case DType::kF16:
          return cuda_detail::simt_kernels_f16();
        default:
          return cuda_detail::simt_kernels_fp8();
      }
  }
}

// gp: 1, 2, 4 or 8 query heads per CTA (packed_heads).
KernelEntry select_kernel(int head_dim, DType q, DType kv, int gp) {
  const int d = gpu_head_dim_index(head_dim, "paged_decode_cuda");
  return table_for(q, kv).tiles[d][std::countr_zero(unsigned(gp))];
}

// Head-parallel tensor-core kernels: head dim 128 only.
KernelEntry select_heads_kernel(DType q, DType kv, int gp) {
  return table_for(q, kv).heads[std::countr_zero(unsigned(gp))];
}

// The kernel a plan launches (the plan and the run step must agree).
KernelEntry kernel_for(const PagedDecodeCudaPlan& p) {
  const auto& s = p.shape;
  return p.head_parallel ? select_heads_kernel(s.q_dtype, s.kv_dtype, p.heads_per_cta)
                         : select_kernel(s.head_dim, s.q_dtype, s.kv_dtype, p.heads_per_cta);
}

int packed_heads(int group) {
  int gp = 1;
  while (gp < group && gp < 8) gp *= 2;
  return gp;
}

}  // namespace

PagedDecodeCudaPlan plan_paged_decode_cuda(const PagedDecodeCudaShape& shape) {
  PKV_CHECK(shape.batch_size >= 1 && shape.batch_size <= 65535, InvalidArgument,
            "paged_decode_cuda: batch_size ", shape.batch_size, " out of range [1, 65535]");
  PKV_CHECK(shape.num_kv_heads >= 1 && shape.num_q_heads >= shape.num_kv_heads &&
                shape.num_q_heads % shape.num_kv_heads == 0,
            InvalidArgument, "paged_decode_cuda: num_q_heads ", shape.num_q_heads,
            " must be a positive multiple of num_kv_heads ", shape.num_kv_heads);
  PKV_CHECK(shape.kv_dtype == DType::kBF16 || shape.kv_dtype == DType::kF16 ||
                shape.kv_dtype == DType::kFP8E4M3,
            Unsupported, "paged_decode_cuda: KV dtype ", dtype_name(shape.kv_dtype),
            " is not supported (bf16, f16, fp8_e4m3)");
  PKV_CHECK(
      shape.q_dtype == DType::kF32 || shape.q_dtype == DType::kF16 || shape.q_dtype == DType::kBF16,
      Unsupported, "paged_decode_cuda: q dtype ", dtype_name(shape.q_dtype),
      " is not supported (f32, f16, bf16)");
  PKV_CHECK(shape.num_splits >= 0 && shape.num_splits <= 128, InvalidArgument,
            "paged_decode_cuda: num_splits ", shape.num_splits, " out of range [0, 128]");
  PagedDecodeCudaPlan p;
  p.shape = shape;
  const int group = shape.num_q_heads / shape.num_kv_heads;
  p.heads_per_cta = packed_heads(group);
  p.head_groups = (group + p.heads_per_cta - 1) / p.heads_per_cta;
  // Shape checks end before the device is touched: an unsupported head dim is the same clear
  // error with or without a GPU (select_kernel names it).
  (void)select_kernel(shape.head_dim, shape.q_dtype, shape.kv_dtype, p.heads_per_cta);
  const int64_t units = int64_t(shape.num_kv_heads) * p.head_groups;
  PKV_CHECK(units <= 65535, InvalidArgument, "paged_decode_cuda: too many kv heads ",
            shape.num_kv_heads);
  int dev = 0;
  cuda_check(cudaGetDevice(&dev), "cudaGetDevice");
  cuda_check(cudaDeviceGetAttribute(&p.sm_count, cudaDevAttrMultiProcessorCount, dev),
             "cudaDeviceGetAttribute");

  // Split count: the fewest splits whose CTAs reach a target of about one CTA per SM, no slice
  // under 128 tokens (at B = 1 with 8 kv heads and 1k tokens, 8 splits beat 4 in the sweep). Why so
  // few: every split costs a prologue (three dependent round trips: length -> page ids -> first
  // tile), a partial write and a merge, while one 4-warp CTA per SM already pulls most of the
  // bandwidth. Fitted to a sweep of every split count x both layouts on H200
  // (docs/benchmarks/gpu_decode.md): filling every resident slot in whole waves lost up to 30%;
  // head-parallel CTAs on sequences >= 4k still gained from a second CTA per SM (2 splits: 1-6%),
  // and fp8 tiles carry half the bytes: head-parallel fp8 ran 1.36x faster with 4 splits than with
  // 1 at B = 64, L = 4k.
  const bool fp8 = shape.kv_dtype == DType::kFP8E4M3;
  const int64_t one_per_sm = std::max<int64_t>(1, p.sm_count * 9 / 10);
  const int64_t max_ns = std::clamp<int64_t>(std::max(shape.expected_len, 1) / 128, 1, 128);
  auto splits_for = [&](int64_t ctas_per_split, int64_t target) {
    return std::clamp<int64_t>((target + ctas_per_split - 1) / ctas_per_split, 1, max_ns);
  };
  const int64_t heads_ctas = (units + cuda_detail::kHeadsWarps - 1) / cuda_detail::kHeadsWarps;
  const int64_t heads_base = int64_t(shape.batch_size) * heads_ctas;
  const int64_t tiles_base = int64_t(shape.batch_size) * units;
  const int64_t heads_target = one_per_sm * (fp8 ? 4 : shape.expected_len >= 4096 ? 2 : 1);

  // Layout: head-parallel (no in-CTA merge, 2-warp CTAs) unless the batch is too small for it
  // (B * ceil(units / 2) < 8: B = 1 with 8 kv heads ran 2x slower head-parallel), or
  // tile-parallel reaches one CTA per SM with fewer splits (in the sweep: B = 16 with
  // 8 kv heads, any length, 1 split vs 2-4: tiles 1-4% faster; B = 1 with 32 kv heads, 4 splits
  // vs 8-15: tiles 2-4% faster), or head-parallel cannot reach it at all on short sequences
  // (B = 1, 32 kv heads, L = 1k: 4 splits either way, tiles 1.5x faster with 4x the warps).
  // fp8 keeps tile-parallel for short sequences only (one split, L <= 2k): its tile-parallel
  // warps convert more than they load (B = 16, L = 16k: 285 vs 196 us; L = 4k: 79 vs 62 us;
  // B = 1, 32 kv heads: 80 vs 62 us; but L = 1k: 27 vs 32 us).
  // 16-bit KV also goes tile-parallel at L >= 4k while its CTAs make at most ~2 waves (B x units
  // <= 4 x SMs): there 1 split either way and tiles ran 1-4% faster on two H200 leases (32/8
  // B=64 L=16k 944 vs 958 and 965 vs 1007 us; 32/32 B=16 L=4k 242 vs 244 and 244 vs 253); at
  // B x units = 2048 and at L = 1k head-parallel stays ahead or even.
  int mode = shape.head_parallel;
  if (const char* env = std::getenv("PAGEDKV_DECODE_HEADS")) mode = env[0] == '1' ? 1 : 0;
  const int64_t heads_ns = splits_for(heads_base, one_per_sm);
  const int64_t tiles_ns = splits_for(tiles_base, one_per_sm);
  const bool tiles_cheaper = fp8 ? tiles_ns == 1 && heads_ns > 1 && shape.expected_len <= 2048
                                 : tiles_ns < heads_ns || heads_base * heads_ns < one_per_sm ||
                                       (tiles_base <= 4 * p.sm_count && shape.expected_len >= 4096);
  p.head_parallel = (mode == 1 || (mode < 0 && heads_base >= 8 && !tiles_cheaper)) &&
                    shape.head_dim == 128 &&
                    family_for(shape.q_dtype, shape.kv_dtype) != Family::kSimt;
  const KernelEntry k = kernel_for(p);
  p.grid_y = int32_t(p.head_parallel ? heads_ctas : units);
  cuda_check(cudaFuncSetAttribute(k.fn, cudaFuncAttributeMaxDynamicSharedMemorySize, k.smem),
             "cudaFuncSetAttribute");
  cuda_check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&p.ctas_per_sm, k.fn, k.threads, k.smem),
             "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  PKV_CHECK(p.ctas_per_sm >= 1, Internal, "paged_decode_cuda: kernel does not fit on an SM");
  p.num_splits = shape.num_splits > 0
                     ? shape.num_splits
                     : int32_t(p.head_parallel ? splits_for(heads_base, heads_target) : tiles_ns);
  p.workspace_bytes = layout_for(p).total;
  return p;
}

void init_paged_decode_workspace(const PagedDecodeCudaPlan& plan, void* workspace,
                                 cudaStream_t stream) {
  const WorkspaceLayout w = layout_for(plan);
  if (w.part_o > 0)
    cuda_check(cudaMemsetAsync(workspace, 0, w.part_o, stream), "cudaMemsetAsync(workspace)");
}

void paged_decode_cuda(const PagedDecodeCudaPlan& plan, const DecodeParams& p, void* workspace,
                       cudaStream_t stream) {
  const auto& s = plan.shape;
  const KvLayerView& kv = p.kv;
  PKV_CHECK(
      p.pages.batch_size == s.batch_size && p.num_q_heads == s.num_q_heads &&
          kv.num_kv_heads == s.num_kv_heads && kv.head_dim == s.head_dim && kv.dtype == s.kv_dtype,
      InvalidArgument, "paged_decode_cuda: params (B=", p.pages.batch_size, " Hq=", p.num_q_heads,
      " Hkv=", kv.num_kv_heads, " D=", kv.head_dim, " kv=", dtype_name(kv.dtype),
      ") do not match the plan (B=", s.batch_size, " Hq=", s.num_q_heads, " Hkv=", s.num_kv_heads,
      " D=", s.head_dim, " kv=", dtype_name(s.kv_dtype), ")");
  PKV_CHECK(p.q_dtype == s.q_dtype, InvalidArgument, "paged_decode_cuda: q dtype ",
            dtype_name(p.q_dtype), " does not match the plan's ", dtype_name(s.q_dtype));
  PKV_CHECK(p.q && p.out && kv.k && kv.v && p.pages.indptr && p.pages.indices &&
                p.pages.first_offset && p.pages.visible_len,
            InvalidArgument, "paged_decode_cuda: a required pointer is null");
  PKV_CHECK(
      kv.block_size >= 1 && kv.block_size <= 256 && std::has_single_bit(unsigned(kv.block_size)),
      InvalidArgument, "paged_decode_cuda: block_size ", kv.block_size,
      " must be a power of two in [1, 256]");
  PKV_CHECK(kv.num_blocks >= 1, InvalidArgument, "paged_decode_cuda: empty pool");
  PKV_CHECK(p.scale > 0.f && p.softcap >= 0.f, InvalidArgument, "paged_decode_cuda: scale ",
            p.scale, " must be > 0 and softcap ", p.softcap, " >= 0");
  const int64_t es = int64_t(dtype_size(kv.dtype));
  const int64_t chunk = 16 / es;  // elements per 16-byte copy: every row start must be aligned
  PKV_CHECK(kv.stride_block % chunk == 0 && kv.stride_token % chunk == 0 &&
                kv.stride_head % chunk == 0 && kv.stride_head >= kv.head_dim &&
                reinterpret_cast<uintptr_t>(kv.k) % 16 == 0 &&
                reinterpret_cast<uintptr_t>(kv.v) % 16 == 0,
            InvalidArgument,
            "paged_decode_cuda: K/V pointers and strides must be 16-byte aligned"
            " (strides ",
            kv.stride_block, ", ", kv.stride_token, ", ", kv.stride_head, ")");
  // The tensor-core kernels form byte offsets from unsigned 32-bit factors (one wide
  // multiply-add each), so a block and a token record must each span < 4 GiB.
  PKV_CHECK(kv.stride_block >= 0 && kv.stride_token >= 0 &&
                kv.stride_block * es <= int64_t(UINT32_MAX) &&
                kv.stride_token * es <= int64_t(UINT32_MAX),
            InvalidArgument, "paged_decode_cuda: a block (", kv.stride_block * es,
            " bytes) and a token record (", kv.stride_token * es,
            " bytes) must each be non-negative and < 4 GiB");
  PKV_CHECK(plan.num_splits == 1 || workspace != nullptr, InvalidArgument,
            "paged_decode_cuda: workspace of ", plan.workspace_bytes, " bytes required");

  const KernelEntry k = kernel_for(plan);
  const WorkspaceLayout w = layout_for(plan);
  auto* ws = static_cast<uint8_t*>(workspace);

  KernelArgs a{};
  a.q = p.q;
  a.out = p.out;
  a.lse = p.lse;
  a.k = static_cast<const uint8_t*>(kv.k);
  a.v = static_cast<const uint8_t*>(kv.v);
  a.stride_block = kv.stride_block;
  a.stride_token = kv.stride_token;
  a.stride_head = kv.stride_head;
  a.block_shift = std::countr_zero(unsigned(kv.block_size));
  a.indptr = p.pages.indptr;
  a.indices = p.pages.indices;
  a.first_offset = p.pages.first_offset;
  a.visible_len = p.pages.visible_len;
  a.num_q_heads = s.num_q_heads;
  a.num_kv_heads = s.num_kv_heads;
  a.group = s.num_q_heads / s.num_kv_heads;
  a.head_groups = plan.head_groups;
  a.num_splits = plan.num_splits;
  a.q_kind = p.q_dtype == DType::kF32   ? cuda_detail::kQF32
             : p.q_dtype == DType::kF16 ? cuda_detail::kQF16
                                        : cuda_detail::kQBF16;
  a.scale = p.scale;
  a.softcap = p.softcap;
  const bool fp8 = kv.dtype == DType::kFP8E4M3;
  a.k_scale = fp8 ? kv.k_scale : 1.f;
  a.v_scale = fp8 ? kv.v_scale : 1.f;
  a.k_head_scale = fp8 ? kv.k_head_scale : nullptr;
  a.v_head_scale = fp8 ? kv.v_head_scale : nullptr;
  a.sinks = p.sinks;
  if (plan.num_splits > 1) {
    a.counters = reinterpret_cast<int32_t*>(ws + w.counters);
    a.part_o = reinterpret_cast<float*>(ws + w.part_o);
    a.part_lse = reinterpret_cast<float*>(ws + w.part_lse);
  }
  const dim3 grid(plan.num_splits, plan.grid_y, s.batch_size);
  k.launch(grid, k.smem, stream, a);
  cuda_check(cudaGetLastError(), "paged_decode_kernel launch");
}

}  // namespace pagedkv
