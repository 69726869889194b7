// The prefill tests' oracle, PrefillProblem::reference (the f64 decode reference applied per row
// over the row's slice of its sequence's blocks), against the CPU prefill kernel
// (paged_prefill_cpu, f32, an independent implementation) on the same problems: the per-row page
// lists, rules, cached prefixes and first blocks that start before the first visible key that the
// CUDA prefill tests rely on are checked here, on the host, without a GPU. Also: NaN written by
// poison_invisible_slots lands only where neither implementation looks.

#include "attention/testing/prefill_problem.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "attention/paged_prefill_cpu.h"
#include "core/error.h"
#include "core/random.h"

namespace pagedkv::testing {
namespace {

// paged_prefill_cpu on every sequence of `prob` (f32 q and out) -> [T, Hq, D].
std::vector<float> cpu_prefill(const PrefillProblem& prob) {
  const auto& spec = prob.spec();
  const size_t row = size_t(spec.num_q_heads) * spec.head_dim;
  std::vector<float> out(size_t(prob.num_tokens()) * row, 0.f);
  for (int32_t s = 0; s < prob.num_seqs(); ++s) {
    PrefillParams p;
    p.q = prob.q().as<float>() + size_t(prob.q_indptr()[s]) * row;
    p.num_q_heads = spec.num_q_heads;
    p.num_tokens = prob.q_indptr()[s + 1] - prob.q_indptr()[s];
    p.q_start = prob.q_pos()[s];
    p.kv = prob.kv_view();
    p.blocks = prob.kv_indices().data() + prob.kv_indptr()[s];
    p.num_blocks = prob.kv_indptr()[s + 1] - prob.kv_indptr()[s];
    p.base_pos = prob.kv_base()[s];
    p.rule = spec.rule;
    p.scale = prob.scale();
    p.softcap = spec.softcap;
    p.out = out.data() + size_t(prob.q_indptr()[s]) * row;
    paged_prefill_cpu(p);
  }
  return out;
}

TEST(PrefillProblem, ReferenceMatchesCpuPrefill) {
  const AttentionRule rules[] = {AttentionRule::full(), AttentionRule::sliding(7),
                                 AttentionRule::sliding(50), AttentionRule::chunked(16),
                                 AttentionRule::chunked(40)};
  int i = 0;
  for (const AttentionRule& rule : rules)
    for (int bs : {1, 16, 64})
      for (bool poison : {false, true}) {
        const uint64_t seed = seed_from_env(30000 + i);
        Rng rng(seed);
        PrefillProblemSpec spec;
        spec.head_dim = 64;
        spec.num_q_heads = 6;
        spec.num_kv_heads = 2;
        spec.block_size = bs;
        spec.q_dtype = DType::kF32;
        spec.kv_dtype = i % 2 ? DType::kBF16 : DType::kF32;
        spec.rule = rule;
        spec.softcap = i % 3 == 0 ? 15.f : 0.f;
        spec.seqs = {{100, 0}, {30, 77}, {1, 150}, {20, 64, 0}};
        PrefillProblem prob(spec, rng);
        if (poison) prob.poison_invisible_slots();
        const std::vector<double> ref = prob.reference();
        const std::vector<float> cpu = cpu_prefill(prob);
        const RowError e =
            worst_row_error(cpu.data(), DType::kF32, ref, spec.num_q_heads, spec.head_dim);
        EXPECT_LE(e.worst, 1e-5) << "seed=" << seed << " " << describe(spec) << " poison=" << poison
                                 << ": " << e.where();
        ++i;
      }
}

// Bad specs are refused when the problem is built.
TEST(PrefillProblem, RejectsKvBaseAfterFirstVisibleKey) {
  Rng rng(1);
  PrefillProblemSpec spec;
  spec.block_size = 16;
  spec.seqs = {{10, 40, 48}};  // first visible key 0 (full) is before block 48
  EXPECT_THROW(PrefillProblem(spec, rng), Error);
  spec.seqs = {{10, 40, 8}};  // not a block boundary
  EXPECT_THROW(PrefillProblem(spec, rng), Error);
}

}  // namespace
}  // namespace pagedkv::testing
