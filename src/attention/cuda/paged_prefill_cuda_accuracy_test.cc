// The CUDA paged prefill kernel against the f64 reference (a one-query decode per row over its
// visible range), per (token, query head) row: ‖out − ref‖ / ‖ref‖ <= 2e-3 (f16 out) or 1e-2
// (bf16 out), fp8 KV included (its e4m3 -> f16 operands are exact; the reference reads the
// dequantized stored values). Every case prints a line: label, seed, shape, grid, worst row.
// Head dims x GQA ratios x block sizes x dtypes; rules; cached prefixes; softcap; NaN in slots no
// row may see. PagedPrefillCudaMemcheck.* are the cases gpu_check.sh runs again under
// compute-sanitizer. Without a GPU, every test skips visibly.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "attention/cuda/testing/device_run.h"  // REQUIRE_GPU
#include "attention/cuda/testing/prefill_device_run.h"
#include "attention/testing/prefill_problem.h"
#include "core/error.h"
#include "core/random.h"

namespace pagedkv {
namespace {

using testing::check_prefill;
using testing::PrefillProblem;
using testing::PrefillProblemSpec;
using testing::PrefillSeqSpec;
using testing::set_fp8_scales;

struct Types {
  DType q, kv;
};
constexpr Types kTypes[] = {{DType::kBF16, DType::kBF16},
                            {DType::kF16, DType::kF16},
                            {DType::kBF16, DType::kFP8E4M3},
                            {DType::kF16, DType::kFP8E4M3}};

int32_t uni(Rng& rng, int64_t lo, int64_t hi) { return int32_t(rng.uniform_int(lo, hi)); }

// 24 cases: (head dim, heads) takes all 24 pairs, (head dim, dtypes) and (block size, dtypes)
// every pair, each block size 6 times. Three sequences per launch: a long one (150-300 rows, half
// of them after a cached prefix), a single row deep into its sequence, a short one after a prefix.
// Every sixth case slides, every sixth is chunked.
TEST(PagedPrefillCuda, SweepHeadDimsGroupsBlockSizesDtypes) {
  REQUIRE_GPU();
  const int dims[] = {64, 128, 256};
  // MHA (4 heads, 1 head), G = 2, 4, 8, 16, and odd G = 3, 5.
  const int heads[][2] = {{4, 4}, {1, 1}, {2, 1}, {8, 2}, {16, 2}, {16, 1}, {12, 4}, {10, 2}};
  const int blocks[] = {1, 16, 64, 256};
  for (int i = 0; i < 24; ++i) {
    const uint64_t seed = seed_from_env(10000 + i);
    Rng rng(seed);
    PrefillProblemSpec spec;
    spec.head_dim = dims[i % 3];
    spec.num_q_heads = heads[i % 8][0];
    spec.num_kv_heads = heads[i % 8][1];
    spec.block_size = blocks[(i + i / 8) % 4];
    spec.q_dtype = kTypes[(i / 3) % 4].q;
    spec.kv_dtype = kTypes[(i / 3) % 4].kv;
    spec.rule = i % 6 == 4   ? AttentionRule::sliding(uni(rng, 20, 150))
                : i % 6 == 5 ? AttentionRule::chunked(uni(rng, 24, 130))
                             : AttentionRule::full();
    spec.softcap = i % 5 == 2 ? 30.f : 0.f;
    spec.seqs = {{uni(rng, 150, 300), i % 2 ? uni(rng, 1, 200) : 0},
                 {1, uni(rng, 0, 400)},
                 {uni(rng, 2, 90), uni(rng, 0, 200)}};
    set_fp8_scales(spec, rng, i % 2 == 1);
    PrefillProblem prob(spec, rng);
    check_prefill(prob, seed, str_cat("sweep#", i));
  }
}

// Full, sliding (window smaller and larger than a CTA's rows: 64 / G tokens) and chunked (chunks
// inside a tile, across tiles and blocks) rules; G = 1 (64 tokens per CTA) and G = 4 (16).
TEST(PagedPrefillCuda, RulesFullSlidingChunked) {
  REQUIRE_GPU();
  const AttentionRule rules[] = {AttentionRule::full(),      AttentionRule::sliding(5),
                                 AttentionRule::sliding(40), AttentionRule::sliding(200),
                                 AttentionRule::chunked(16), AttentionRule::chunked(48),
                                 AttentionRule::chunked(100)};
  const int blocks[] = {16, 1, 64};
  int i = 0;
  for (const AttentionRule& rule : rules)
    for (int group : {1, 4}) {
      const uint64_t seed = seed_from_env(11000 + i);
      Rng rng(seed);
      PrefillProblemSpec spec;
      spec.head_dim = 128;
      spec.num_kv_heads = 2;
      spec.num_q_heads = 2 * group;
      spec.block_size = blocks[i % 3];
      spec.q_dtype = kTypes[i % 4].q;
      spec.kv_dtype = kTypes[i % 4].kv;
      spec.rule = rule;
      spec.seqs = {{300, 0}, {90, 170}, {1, 250}, {40, 513}};
      set_fp8_scales(spec, rng, false);
      PrefillProblem prob(spec, rng);
      check_prefill(prob, seed, str_cat("rules#", i));
      ++i;
    }
}

// Rows that start after a cached prefix (earlier keys in blocks written before: a prefix-cache
// hit or an earlier chunk), and first listed blocks that start before the first visible key
// (a window or chunk start inside a block, or blocks listed from position 0 under a window).
TEST(PagedPrefillCuda, CachedPrefixAndFirstBlockBeforeFirstVisibleKey) {
  REQUIRE_GPU();
  struct C {
    AttentionRule rule;
    int bs;
    std::vector<PrefillSeqSpec> seqs;
  };
  const std::vector<C> cases = {
      {AttentionRule::full(), 16, {{64, 256}, {100, 37}, {1, 999}}},
      {AttentionRule::full(), 256, {{130, 300}, {5, 255}, {2, 256}}},
      {AttentionRule::sliding(100), 16, {{80, 500, 0}, {33, 130, 16}}},    // blocks from 0 / 16
      {AttentionRule::sliding(100), 64, {{80, 501}, {1, 700}, {70, 99}}},  // base 384 < 402
      {AttentionRule::chunked(128), 16, {{60, 300}, {200, 129}}},
      {AttentionRule::chunked(100), 64, {{60, 300}, {150, 150, 64}}},  // base 256 < 300
      {AttentionRule::sliding(1), 8, {{50, 77}, {1, 0}}},              // sees itself only
  };
  const int dims[] = {64, 128, 256};
  const int heads[][2] = {{16, 2}, {8, 8}};
  for (size_t i = 0; i < cases.size(); ++i) {
    const uint64_t seed = seed_from_env(12000 + i);
    Rng rng(seed);
    PrefillProblemSpec spec;
    spec.head_dim = dims[i % 3];
    spec.num_q_heads = heads[i % 2][0];
    spec.num_kv_heads = heads[i % 2][1];
    spec.block_size = cases[i].bs;
    spec.q_dtype = kTypes[i % 4].q;
    spec.kv_dtype = kTypes[i % 4].kv;
    spec.rule = cases[i].rule;
    spec.seqs = cases[i].seqs;
    set_fp8_scales(spec, rng, i % 2 == 0);
    PrefillProblem prob(spec, rng);
    check_prefill(prob, seed, str_cat("prefix#", i));
  }
}

// Softcap on (a mild and a strong cap) and off with peaky logits, every dtype pair.
TEST(PagedPrefillCuda, SoftcapEveryDtype) {
  REQUIRE_GPU();
  int i = 0;
  for (const Types& t : kTypes)
    for (float cap : {0.f, 30.f, 5.f}) {
      const uint64_t seed = seed_from_env(13000 + i);
      Rng rng(seed);
      PrefillProblemSpec spec;
      spec.head_dim = i % 2 ? 256 : 128;
      spec.num_q_heads = 8;
      spec.num_kv_heads = 2;
      spec.block_size = 16;
      spec.q_dtype = t.q;
      spec.kv_dtype = t.kv;
      spec.softcap = cap;
      spec.qk_stddev = 2.0f;  // logits with a spread of ~4: the cap matters
      spec.rule = i % 3 == 2 ? AttentionRule::sliding(64) : AttentionRule::full();
      spec.seqs = {{200, 0}, {50, 120}};
      set_fp8_scales(spec, rng, false);
      PrefillProblem prob(spec, rng);
      check_prefill(prob, seed, str_cat("softcap#", i));
      ++i;
    }
}

// Slots no row may see (unused block tails, keys before a window or chunk in the first block,
// spare and other sequences' blocks) hold NaN: none of it reaches the output (0 * NaN = NaN, so
// masked keys must never be loaded).
TEST(PagedPrefillCuda, InvisibleSlotsHoldingNaNAreNeverRead) {
  REQUIRE_GPU();
  int i = 0;
  for (DType kv : {DType::kBF16, DType::kFP8E4M3})
    for (int bs : {1, 16, 64})
      for (const AttentionRule& rule :
           {AttentionRule::full(), AttentionRule::sliding(33), AttentionRule::chunked(40)}) {
        const uint64_t seed = seed_from_env(14000 + i);
        Rng rng(seed);
        PrefillProblemSpec spec;
        spec.head_dim = 64 << (i % 3);
        spec.num_q_heads = 8;
        spec.num_kv_heads = 2;
        spec.block_size = bs;
        spec.q_dtype = i % 2 ? DType::kF16 : DType::kBF16;
        spec.kv_dtype = kv == DType::kBF16 ? spec.q_dtype : kv;
        spec.rule = rule;
        spec.spare_blocks = 4;
        spec.seqs = {{120, 0}, {37, 90}, {1, 200}};
        set_fp8_scales(spec, rng, false);
        PrefillProblem prob(spec, rng);
        prob.poison_invisible_slots();
        check_prefill(prob, seed, str_cat("nan#", i));
        ++i;
      }
}

// Small cases that gpu_check.sh runs again under compute-sanitizer memcheck: every kernel (head
// dim x dtype family), partial tiles, one-row sequences, block size 1, each rule.
TEST(PagedPrefillCudaMemcheck, SmallCases) {
  REQUIRE_GPU();
  int i = 0;
  for (int D : {64, 128, 256})
    for (const Types& t : kTypes) {
      const uint64_t seed = seed_from_env(15000 + i);
      Rng rng(seed);
      PrefillProblemSpec spec;
      spec.head_dim = D;
      spec.num_q_heads = 4;
      spec.num_kv_heads = 2;
      spec.block_size = i % 2 ? 1 : 16;
      spec.q_dtype = t.q;
      spec.kv_dtype = t.kv;
      spec.rule = i % 3 == 0   ? AttentionRule::full()
                  : i % 3 == 1 ? AttentionRule::sliding(20)
                               : AttentionRule::chunked(32);
      spec.seqs = {{70, 0}, {1, 30}, {20, 17}};
      set_fp8_scales(spec, rng, i % 2 == 0);
      PrefillProblem prob(spec, rng);
      check_prefill(prob, seed, str_cat("memcheck#", i));
      ++i;
    }
}

}  // namespace
}  // namespace pagedkv
