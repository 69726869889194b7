// Host side of the fused paged decode kernel: dispatch to compile-time head dim / KV dtype /
// packed-head count, the plan (split count, workspace), validation and the launch.

#include "attention/cuda/paged_decode_cuda.h"

#include <algorithm>
#include <bit>

#include "attention/cuda/paged_decode_kernel.cuh"
#include "core/error.h"

namespace pagedkv {
namespace {

using cuda_detail::Cfg;
using cuda_detail::KernelArgs;
using cuda_detail::KvKind;

void check_cuda(cudaError_t err, const char* what) {
  PKV_CHECK(err == cudaSuccess, Internal, what, ": ", cudaGetErrorString(err));
}

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

// One kernel pointer + its shared-memory need per (D, KV dtype, heads per CTA).
struct KernelEntry {
  const void* fn = nullptr;
  int smem = 0;
  void (*launch)(dim3, int, cudaStream_t, const KernelArgs&) = nullptr;
};

template <int D, KvKind KV, int GP>
KernelEntry entry() {
  KernelEntry e;
  e.fn = reinterpret_cast<const void*>(&cuda_detail::paged_decode_kernel<D, KV, GP>);
  e.smem = Cfg<D, KV>::kSmemBytes;
  e.launch = [](dim3 grid, int smem, cudaStream_t st, const KernelArgs& a) {
    cuda_detail::paged_decode_kernel<D, KV, GP><<<grid, cuda_detail::kThreads, smem, st>>>(a);
  };
  return e;
}

template <int D, KvKind KV>
KernelEntry entry_gp(int gp) {
  switch (gp) {
    case 1: return entry<D, KV, 1>();
    case 2: return entry<D, KV, 2>();
    case 4: return entry<D, KV, 4>();
    default: return entry<D, KV, 8>();
  }
}

template <int D>
KernelEntry entry_kv(DType kv, int gp) {
  switch (kv) {
    case DType::kBF16: return entry_gp<D, KvKind::kBF16>(gp);
    case DType::kF16: return entry_gp<D, KvKind::kF16>(gp);
    default: return entry_gp<D, KvKind::kFP8>(gp);
  }
}

// The DISPATCH switch: head dim to a compile-time constant; anything else is unsupported.
KernelEntry select_kernel(int head_dim, DType kv, int gp) {
  switch (head_dim) {
    case 64: return entry_kv<64>(kv, gp);
    case 128: return entry_kv<128>(kv, gp);
    case 256: return entry_kv<256>(kv, gp);
    default:
      fail(ErrorKind::kUnsupported,
           str_cat("paged_decode_cuda: head_dim ", head_dim, " is not supported (64, 128, 256)"));
  }
}

int packed_heads(int group) {
  int gp = 1;
  while (gp < group && gp < 8) gp *= 2;
  return gp;
}

}  // namespace

bool cuda_device_available() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return n > 0;
}

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
  PKV_CHECK(shape.num_splits >= 0, InvalidArgument, "paged_decode_cuda: num_splits ",
            shape.num_splits, " is negative");
  PagedDecodeCudaPlan p;
  p.shape = shape;
  const int group = shape.num_q_heads / shape.num_kv_heads;
  p.heads_per_cta = packed_heads(group);
  p.head_groups = (group + p.heads_per_cta - 1) / p.heads_per_cta;
  const KernelEntry k = select_kernel(shape.head_dim, shape.kv_dtype, p.heads_per_cta);
  PKV_CHECK(int64_t(shape.num_kv_heads) * p.head_groups <= 65535, InvalidArgument,
            "paged_decode_cuda: too many kv heads ", shape.num_kv_heads);

  int dev = 0;
  check_cuda(cudaGetDevice(&dev), "cudaGetDevice");
  check_cuda(cudaDeviceGetAttribute(&p.sm_count, cudaDevAttrMultiProcessorCount, dev),
             "cudaDeviceGetAttribute");
  check_cuda(cudaFuncSetAttribute(k.fn, cudaFuncAttributeMaxDynamicSharedMemorySize, k.smem),
             "cudaFuncSetAttribute");
  check_cuda(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&p.ctas_per_sm, k.fn,
                                                           cuda_detail::kThreads, k.smem),
             "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
  PKV_CHECK(p.ctas_per_sm >= 1, Internal, "paged_decode_cuda: kernel does not fit on an SM");

  if (shape.num_splits > 0) {
    p.num_splits = shape.num_splits;
  } else {
    // Enough CTAs for ~4 waves of the resident slots (so the last wave's tail is short), but
    // no slice under 256 tokens (a CTA's prologue and merge must stay small next to its
    // stream), and no splits once the batch alone fills the machine.
    const int64_t slots = int64_t(p.sm_count) * p.ctas_per_sm;
    const int64_t base = int64_t(shape.batch_size) * shape.num_kv_heads * p.head_groups;
    const int64_t want = (4 * slots + base - 1) / base;
    const int64_t by_len = std::max<int64_t>(1, std::max(shape.expected_len, 1) / 256);
    p.num_splits = int32_t(std::clamp<int64_t>(std::min(want, by_len), 1, 128));
  }
  p.workspace_bytes = layout_for(p).total;
  return p;
}

void init_paged_decode_workspace(const PagedDecodeCudaPlan& plan, void* workspace,
                                 cudaStream_t stream) {
  const WorkspaceLayout w = layout_for(plan);
  if (w.part_o > 0)
    check_cuda(cudaMemsetAsync(workspace, 0, w.part_o, stream), "cudaMemsetAsync(workspace)");
}

void paged_decode_cuda(const PagedDecodeCudaPlan& plan, const DecodeParams& p, void* workspace,
                       cudaStream_t stream) {
  const auto& s = plan.shape;
  const KvLayerView& kv = p.kv;
  PKV_CHECK(p.pages.batch_size == s.batch_size && p.num_q_heads == s.num_q_heads &&
                kv.num_kv_heads == s.num_kv_heads && kv.head_dim == s.head_dim &&
                kv.dtype == s.kv_dtype,
            InvalidArgument, "paged_decode_cuda: params (B=", p.pages.batch_size,
            " Hq=", p.num_q_heads, " Hkv=", kv.num_kv_heads, " D=", kv.head_dim, " kv=",
            dtype_name(kv.dtype), ") do not match the plan (B=", s.batch_size, " Hq=",
            s.num_q_heads, " Hkv=", s.num_kv_heads, " D=", s.head_dim, " kv=",
            dtype_name(s.kv_dtype), ")");
  PKV_CHECK(p.q_dtype == DType::kF32 || p.q_dtype == DType::kF16 || p.q_dtype == DType::kBF16,
            Unsupported, "paged_decode_cuda: q dtype ", dtype_name(p.q_dtype),
            " is not supported (f32, f16, bf16)");
  PKV_CHECK(p.q && p.out && kv.k && kv.v && p.pages.indptr && p.pages.indices &&
                p.pages.first_offset && p.pages.visible_len,
            InvalidArgument, "paged_decode_cuda: a required pointer is null");
  PKV_CHECK(kv.block_size >= 1 && kv.block_size <= 256 && std::has_single_bit(unsigned(kv.block_size)),
            InvalidArgument, "paged_decode_cuda: block_size ", kv.block_size,
            " must be a power of two in [1, 256]");
  PKV_CHECK(kv.num_blocks >= 1, InvalidArgument, "paged_decode_cuda: empty pool");
  PKV_CHECK(p.scale > 0.f && p.softcap >= 0.f, InvalidArgument,
            "paged_decode_cuda: scale ", p.scale, " must be > 0 and softcap ", p.softcap, " >= 0");
  const int64_t es = int64_t(dtype_size(kv.dtype));
  const int64_t chunk = 16 / es;  // elements per 16-byte copy: every row start must be aligned
  PKV_CHECK(kv.stride_block % chunk == 0 && kv.stride_token % chunk == 0 &&
                kv.stride_head % chunk == 0 && kv.stride_head >= kv.head_dim &&
                reinterpret_cast<uintptr_t>(kv.k) % 16 == 0 &&
                reinterpret_cast<uintptr_t>(kv.v) % 16 == 0,
            InvalidArgument, "paged_decode_cuda: K/V pointers and strides must be 16-byte aligned"
            " (strides ", kv.stride_block, ", ", kv.stride_token, ", ", kv.stride_head, ")");
  PKV_CHECK(plan.num_splits == 1 || workspace != nullptr, InvalidArgument,
            "paged_decode_cuda: workspace of ", plan.workspace_bytes, " bytes required");

  const KernelEntry k = select_kernel(s.head_dim, s.kv_dtype, plan.heads_per_cta);
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
  const dim3 grid(plan.num_splits, s.num_kv_heads * plan.head_groups, s.batch_size);
  k.launch(grid, k.smem, stream, a);
  check_cuda(cudaGetLastError(), "paged_decode_kernel launch");
}

}  // namespace pagedkv
