// One CPU model run for bench/cpu_model_bench.py: load a checkpoint (directory or .gguf), prefill a
// prompt of seeded random ids in one call, then decode greedily; print one JSON line with the load
// time, prefill and decode tokens/s and the process's peak RSS. One process per configuration, so
// the RSS is that configuration's alone; the thread count comes from $PAGEDKV_NUM_THREADS.
//
//   pagedkv_cpu_model_bench MODEL [prompt_tokens=512] [decode_tokens=64] [seed=1]

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "model/causal_lm.h"

using namespace pagedkv;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL [prompt_tokens] [decode_tokens] [seed]\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  const int prompt_len = argc > 2 ? std::stoi(argv[2]) : 512;
  const int decode_len = argc > 3 ? std::stoi(argv[3]) : 64;
  const unsigned seed = argc > 4 ? unsigned(std::stoul(argv[4])) : 1u;

  auto t0 = std::chrono::steady_clock::now();
  const CausalLm model = CausalLm::load(path);
  const double load_s = seconds_since(t0);
  const int64_t V = model.config().vocab_size;

  std::mt19937 rng(seed);
  std::vector<int32_t> prompt(static_cast<size_t>(prompt_len));
  for (int32_t& t : prompt) t = int32_t(rng() % uint32_t(std::min<int64_t>(V, 32000)));

  const int32_t block = 16;
  KvCache cache(model.kv_cache_config((prompt_len + decode_len) / block + 4, block));
  const SeqId seq = 0;
  cache.add_sequence(seq);
  t0 = std::chrono::steady_clock::now();
  std::vector<float> logits = model.prefill(cache, seq, prompt, /*all_logits=*/false);
  const double prefill_s = seconds_since(t0);

  int32_t next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < decode_len; ++i) {
    logits =
        model.decode(cache, std::span<const SeqId>(&seq, 1), std::span<const int32_t>(&next, 1));
    next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  const double decode_s = seconds_since(t0);

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf(
      "{\"engine\": \"pagedkv\", \"model\": \"%s\", \"load_s\": %.4f, \"prefill_tokens\": %d, "
      "\"prefill_tok_s\": %.2f, \"decode_tokens\": %d, \"decode_tok_s\": %.3f, "
      "\"peak_rss_mb\": %.1f, \"last_token\": %d}\n",
      path.c_str(), load_s, prompt_len, prompt_len / prefill_s, decode_len, decode_len / decode_s,
      double(ru.ru_maxrss) / 1024.0, next);
  return 0;
}
