#pragma once
// Gather-then-dense decode (../shared/DESIGN.md §3, implementation 2, "option A"): copy each
// sequence's visible tokens out of its blocks into one contiguous buffer, then run
// dense_decode_cpu on it. Costs an extra read + write of all visible K/V per step; the baseline
// the fused kernel must beat.

#include "attention/cpu_decode_options.h"
#include "attention/decode_params.h"
#include "core/aligned_buffer.h"

namespace pagedkv {

// Reusable scratch for decode_gather (grown on demand; reuse it across steps to avoid paying
// allocation and page faults every call).
struct DecodeGatherWorkspace {
  AlignedBuffer k;  // [sum visible_len, Hkv, D]
  AlignedBuffer v;  // [sum visible_len, Hkv, D]
};

// Validates p (fp8 KV Unsupported), gathers, then dense attention. Writes p.out and p.lse.
void decode_gather(const DecodeParams& p, DecodeGatherWorkspace& workspace,
                   const CpuDecodeOptions& options = {});
// Convenience overload with a temporary workspace.
void decode_gather(const DecodeParams& p, const CpuDecodeOptions& options = {});

}  // namespace pagedkv
