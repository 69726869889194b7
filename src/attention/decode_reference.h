#pragma once
// The oracle of ../shared/DESIGN.md §3: scalar, float64, one (sequence, query head) at a time,
// straight from the definition. Slow (O(B * Hq * len * D) with a scalar load per element); used by
// every test and by the CUDA helper to check its kernels. Reads KV in any pool dtype including
// fp8 e4m3 (times k_scale / v_scale or the per-head scales).

#include <vector>

#include "attention/decode_params.h"

namespace pagedkv {

struct DecodeReferenceResult {
  std::vector<double> out;  // [B, Hq, D]
  std::vector<double> lse;  // [B, Hq]: natural-log log-sum-exp of the (capped) scaled logits,
                            // sinks included
};

// Validates p, then computes the attention in f64 without writing p.out / p.lse.
DecodeReferenceResult decode_reference_f64(const DecodeParams& p);

// Validates p, computes in f64 and writes p.out (rounded to q_dtype) and p.lse (f32) if non-null.
void decode_reference(const DecodeParams& p);

}  // namespace pagedkv
