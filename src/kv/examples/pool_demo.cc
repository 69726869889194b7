// pagedkv_pool_demo (`pagedkv pool-demo`): a tour of the kv layer on a tiny pool, no model:
// a prompt shared by forked sequences, copy-on-write of the shared tail, a sliding-window group
// sliding past its window, the pool's metrics and each sequence's page list, prefix-cache reuse.
#include <CLI/CLI.hpp>
#include <iostream>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "kv/kv_cache.h"

namespace pagedkv {
namespace {

struct DemoOptions {
  int32_t block_size = 4;
  int32_t num_blocks = 24;
  int32_t window = 8;
  int32_t prefix = 10;
};

void print_metrics(const KvCache& cache) {
  for (int32_t g = 0; g < cache.num_groups(); ++g) {
    const AllocatorMetrics m = cache.metrics(g);
    std::cout << "  group " << g << " (" << cache.group_spec(g).rule.describe()
              << "): " << m.used_blocks << " of " << m.total_blocks << " blocks in use, "
              << m.free_blocks << " free, " << m.used_bytes << " of " << m.total_bytes
              << " bytes\n";
  }
}

void print_page_lists(const KvCache& cache) {
  const std::vector<SeqId> seqs = cache.sequences();
  for (int32_t g = 0; g < cache.num_groups(); ++g) {
    const PageList pages = cache.page_list(g, seqs);
    std::cout << "  group " << g << " (" << cache.group_spec(g).rule.describe() << ")\n";
    for (size_t b = 0; b < seqs.size(); ++b) {
      const BlockTable& t = cache.table(g, seqs[b]);
      std::cout << "    seq " << seqs[b] << ": " << t.num_tokens() << " tokens, blocks [";
      for (int32_t i = pages.indptr[b]; i < pages.indptr[b + 1]; ++i)
        std::cout << (i > pages.indptr[b] ? " " : "") << pages.indices[i];
      std::cout << "], first_offset " << pages.first_offset[b] << ", visible "
                << pages.visible_len[b] << ", released " << t.num_released() << "\n";
    }
  }
}

// Writes random K/V for positions [from, to) of every layer.
void write_new(KvCache& cache, SeqId seq, int64_t from, int64_t to, Rng& rng) {
  const KvGeometry& g0 = cache.geometry(0);
  std::vector<float> k(g0.token_elems()), v(g0.token_elems());
  for (int64_t pos = from; pos < to; ++pos)
    for (int32_t layer = 0; layer < cache.num_layers(); ++layer) {
      rng.fill_normal(k);
      rng.fill_normal(v);
      cache.write(seq, layer, pos, k.data(), v.data());
    }
}

// Decodes `steps` tokens one at a time, as a model does (the window slides at each step).
void decode(KvCache& cache, SeqId seq, int64_t steps, Rng& rng) {
  for (int64_t i = 0; i < steps; ++i) {
    const int64_t pos = cache.append(seq, 1);
    write_new(cache, seq, pos, pos + 1, rng);
  }
}

void run_demo(const DemoOptions& opt) {
  Rng rng(seed_from_env(7));
  // Layers 0 and 2 attend fully, layer 1 slides with window W (a Gemma-3-like pattern).
  KvCacheConfig config = KvCacheConfig::uniform(
      {{AttentionRule::full(), {0, 2}}, {AttentionRule::sliding(opt.window), {1}}}, opt.num_blocks,
      opt.block_size, /*num_kv_heads=*/2, /*head_dim=*/8, DType::kBF16);
  config.enable_prefix_cache = true;
  KvCache cache(std::move(config));
  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < opt.prefix; ++i) prompt.push_back(1000 + 17 * i);
  std::cout << "pagedkv pool-demo: block size " << opt.block_size << ", " << opt.num_blocks
            << " blocks per group, groups: full {0, 2}, sliding W=" << opt.window << " {1}\n";

  std::cout << "\n1. sequence 1 prefills a " << opt.prefix << "-token prompt\n";
  cache.add_prompt(1, prompt);
  write_new(cache, 1, 0, opt.prefix, rng);
  cache.cache_full_blocks(1);  // its full blocks enter the prefix cache
  std::cout << "\n2. sequences 2 and 3 fork from it: they share every block, nothing is copied\n";
  cache.fork(1, 2);
  cache.fork(1, 3);
  print_metrics(cache);
  std::cout << "\n3. each decodes its own tokens: the shared partial tail is copied on write\n";
  decode(cache, 1, 3, rng);
  decode(cache, 2, 2, rng);
  decode(cache, 3, 1, rng);
  print_metrics(cache);
  std::cout << "\n4. sequence 4 forks from sequence 2, then sequence 2 decodes past the window\n";
  cache.fork(2, 4);
  decode(cache, 2, 2 * opt.window, rng);
  print_metrics(cache);
  std::cout << "\n5. page lists (the CSR arrays kernels read), one batch of all sequences\n";
  print_page_lists(cache);
  cache.check_invariants();
  std::cout << "\n6. sequences 1 and 3 finish and release their blocks, newest first\n";
  cache.release(1);
  cache.release(3);
  print_metrics(cache);
  print_page_lists(cache);
  cache.check_invariants();
  std::cout << "\n7. a new request with the same prompt reuses the cached full blocks\n";
  const int64_t hit = cache.add_prompt(5, prompt);
  write_new(cache, 5, hit, opt.prefix, rng);
  const PrefixCacheMetrics pm = cache.prefix_metrics();
  std::cout << "  " << hit << " of " << opt.prefix << " prompt tokens came from the prefix cache; "
            << pm.cached_blocks << " blocks cached, " << pm.hits << " hit(s) in " << pm.queries
            << " lookups, " << pm.evictions << " evictions\n";
  print_page_lists(cache);
  cache.check_invariants();
}

}  // namespace
}  // namespace pagedkv

int main(int argc, char** argv) {
  pagedkv::DemoOptions opt;
  CLI::App app{
      "pagedkv pool-demo: fill a small paged KV pool: shared prefix, fork, sliding "
      "window, page lists",
      "pagedkv pool-demo"};
  app.add_option("--block-size", opt.block_size, "tokens per block (power of two)");
  app.add_option("--num-blocks", opt.num_blocks, "blocks per layer group");
  app.add_option("--window", opt.window, "sliding window of the sliding group");
  app.add_option("--prefix", opt.prefix, "tokens of the shared prompt");
  CLI11_PARSE(app, argc, argv);
  try {
    pagedkv::run_demo(opt);
  } catch (const pagedkv::Error& e) {
    std::cerr << "pagedkv pool-demo: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
