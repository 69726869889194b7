// Prefix cache benchmarks (issue 4):
// 1. lookup + allocate cost per block for a prompt whose first k blocks hit, with 10,000 blocks
//    cached, against the same admission with the prefix cache off (k + 1 fresh blocks) as the
//    baseline measured in the same run;
// 2. memory for 64 requests sharing a 2,048-token prefix, with and without the prefix cache,
//    in blocks and in bytes of a Llama-3-8B-shaped pool (32 layers, 8 KV heads, head dim 128,
//    bf16, block size 16).
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "kv/kv_cache.h"

namespace pagedkv {
namespace {

constexpr int32_t kBs = 16;
constexpr int32_t kPrompts = 100, kBlocksPerPrompt = 100;  // 10,000 cached blocks
constexpr int32_t kSpare = 2048;
constexpr int64_t kRebuildEvery = 1000;  // < kSpare: the admissions never evict a cached block

std::unique_ptr<KvCache> make_cache(int32_t blocks, bool prefix) {
  // Bookkeeping cost does not depend on head geometry; keep the storage tiny.
  KvCacheConfig c =
      KvCacheConfig::uniform({{AttentionRule::full(), {0}}}, blocks, kBs, 1, 2, DType::kBF16);
  c.enable_prefix_cache = prefix;
  return std::make_unique<KvCache>(std::move(c));
}

std::vector<std::vector<int32_t>> make_prompts() {
  std::vector<std::vector<int32_t>> prompts(kPrompts);
  uint32_t x = 12345;
  for (auto& p : prompts)
    for (int32_t i = 0; i < kBlocksPerPrompt * kBs + 1; ++i) {
      x = x * 1664525u + 1013904223u;
      p.push_back(int32_t(x >> 8));
    }
  return prompts;
}

// Publish every prompt's 100 full blocks, then free them: 10,000 cached blocks in the queue.
void fill_cache(KvCache& cache, const std::vector<std::vector<int32_t>>& prompts) {
  for (SeqId s = 0; s < kPrompts; ++s) {
    cache.add_prompt(1000000 + s, prompts[s]);
    cache.cache_full_blocks(1000000 + s);
    cache.release(1000000 + s);
  }
}

void BM_AdmitWithHits(benchmark::State& state, bool prefix) {
  const int64_t k = state.range(0);  // hit blocks per admission
  const auto prompts = make_prompts();
  auto cache = make_cache(kPrompts * (kBlocksPerPrompt + 1) + kSpare, prefix);
  fill_cache(*cache, prompts);
  int64_t i = 0, hit_tokens = 0;
  for (auto _ : state) {
    if (i > 0 && i % kRebuildEvery == 0) {
      state.PauseTiming();
      cache = make_cache(kPrompts * (kBlocksPerPrompt + 1) + kSpare, prefix);
      fill_cache(*cache, prompts);
      state.ResumeTiming();
    }
    const auto& p = prompts[i % kPrompts];
    hit_tokens += cache->add_prompt(i, std::span<const int32_t>(p.data(), k * kBs + 1));
    cache->release(i);
    ++i;
  }
  state.counters["hit_blocks_per_admission"] = double(hit_tokens) / kBs / double(i);
  state.counters["cached_blocks"] = double(cache->prefix_metrics().cached_blocks);
  state.counters["per_block"] = benchmark::Counter(
      double(i) * double(k + 1), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_PrefixCacheOn(benchmark::State& state) { BM_AdmitWithHits(state, true); }
void BM_PrefixCacheOff(benchmark::State& state) { BM_AdmitWithHits(state, false); }
BENCHMARK(BM_PrefixCacheOff)->Arg(1)->Arg(16)->Arg(99);
BENCHMARK(BM_PrefixCacheOn)->Arg(1)->Arg(16)->Arg(99);

// Lookup alone (no allocation): walk and verify k blocks among 10,000 cached.
void BM_LookupOnly(benchmark::State& state) {
  const int64_t k = state.range(0);
  const auto prompts = make_prompts();
  auto cache = make_cache(kPrompts * (kBlocksPerPrompt + 1) + kSpare, true);
  fill_cache(*cache, prompts);
  int64_t i = 0;
  for (auto _ : state) {
    const auto& p = prompts[i++ % kPrompts];
    benchmark::DoNotOptimize(cache->lookup(std::span<const int32_t>(p.data(), k * kBs + 1)));
  }
  state.counters["per_block"] = benchmark::Counter(
      double(i) * double(k), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_LookupOnly)->Arg(1)->Arg(16)->Arg(99);

// 64 requests: a shared 2,048-token prefix plus 16 tokens of their own, all alive at once.
void BM_SharedPrefixMemory(benchmark::State& state) {
  const bool prefix = state.range(0) != 0;
  constexpr int32_t kRequests = 64, kPrefix = 2048, kOwn = 16;
  const KvGeometry llama3_8b{32, 1, kBs, 8, 128, DType::kBF16};
  std::vector<std::vector<int32_t>> prompts(kRequests);
  for (int32_t r = 0; r < kRequests; ++r) {
    for (int32_t t = 0; t < kPrefix; ++t) prompts[r].push_back(t * 7 + 3);
    for (int32_t t = 0; t < kOwn; ++t) prompts[r].push_back(100000 + r * kOwn + t);
  }
  int64_t used = 0;
  for (auto _ : state) {
    auto cache = make_cache(kRequests * (kPrefix + kOwn) / kBs + 8, prefix);
    for (int32_t r = 0; r < kRequests; ++r) {
      cache->add_prompt(r, prompts[r]);
      cache->cache_full_blocks(r);  // after the model would have written the prompt's K/V
    }
    used = cache->metrics(0).used_blocks;
    state.PauseTiming();
    cache.reset();
    state.ResumeTiming();
  }
  state.counters["blocks"] = double(used);
  state.counters["GiB_llama3_8b"] =
      double(used) * double(llama3_8b.bytes_per_block()) / (1024.0 * 1024.0 * 1024.0);
}
BENCHMARK(BM_SharedPrefixMemory)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace pagedkv

BENCHMARK_MAIN();
