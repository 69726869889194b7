#pragma once
// Test helper: a CPU model against an HF fixture (hf_fixture.h) — prefill each prompt, decode
// teacher-forced with HF's generated tokens, and check every row's logits within `tolerance`
// (relative L2) and the greedy token at every generated step (GoogleTest EXPECTs).

#include <cstdint>

#include "model/causal_lm.h"
#include "model/testing/hf_fixture.h"

namespace pagedkv {

// Returns the worst row error.
double expect_matches_hf(const CausalLm& model, const HfFixture& fx, int32_t block_size,
                         double tolerance);

}  // namespace pagedkv
