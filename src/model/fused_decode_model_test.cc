// The model's decode through the fused paged kernel (attention/paged_decode_cpu.h), on synthetic
// models with a head dim it supports (64): equals the paged-prefill decode path (which the HF
// fixtures check) within f32 rounding, bit-identical under shuffled block tables, and a batch
// equals each sequence alone. Covers full, sliding (Gemma 3) and chunked (Llama 4) page lists.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/random.h"
#include "model/causal_lm.h"
#include "model/random_weights.h"
#include "model/testing/hf_fixture.h"

namespace pagedkv {
namespace {

constexpr int32_t kBlockSize = 4;

ModelConfig synthetic_config(const std::string& family) {
  nlohmann::json j = {{"hidden_size", 128},       {"intermediate_size", 96},
                      {"num_attention_heads", 4}, {"num_key_value_heads", 2},
                      {"head_dim", 64},           {"vocab_size", 97},
                      {"num_hidden_layers", 4}};
  if (family == "llama3") j["architectures"] = {"LlamaForCausalLM"};
  if (family == "qwen3") j["architectures"] = {"Qwen3ForCausalLM"};
  if (family == "gemma3") {
    j["architectures"] = {"Gemma3ForCausalLM"};
    j["num_hidden_layers"] = 6;
    j["sliding_window"] = 8;
    j["query_pre_attn_scalar"] = 48;
  }
  if (family == "llama4") {
    j["architectures"] = {"Llama4ForCausalLM"};
    j["attention_chunk_size"] = 8;
    j["intermediate_size"] = 32;
    j["intermediate_size_mlp"] = 96;
    j["num_local_experts"] = 4;
    j["num_experts_per_tok"] = 2;
    j["interleave_moe_layer_step"] = 2;
    j["floor_scale"] = 4;
  }
  return parse_model_config(j);
}

// Prefill a random prompt then decode random tokens; all logits rows.
std::vector<float> run(const CausalLm& m, KvCache& cache, SeqId seq,
                       const std::vector<int32_t>& tokens, size_t prompt_len) {
  cache.add_sequence(seq);
  std::vector<float> out =
      m.prefill(cache, seq, std::span<const int32_t>(tokens.data(), prompt_len));
  for (size_t i = prompt_len; i < tokens.size(); ++i) {
    const auto l =
        m.decode(cache, std::span<const SeqId>(&seq, 1), std::span<const int32_t>(&tokens[i], 1));
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

class FusedDecodeModel : public testing::TestWithParam<const char*> {};

TEST_P(FusedDecodeModel, MatchesPagedPrefillPathAndIsPlacementInvariant) {
  Rng rng(seed_from_env(29));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const ModelConfig config = synthetic_config(GetParam());
  CausalLm fused(config, random_model_weights(config, rng));
  ASSERT_EQ(fused.resolved_decode_kernel(DType::kF32), DecodeKernel::kFusedPaged);
  Rng rng2(rng.seed());
  CausalLm simple(config, random_model_weights(config, rng2));  // same weights
  simple.set_decode_kernel(DecodeKernel::kPagedPrefill);
  std::vector<int32_t> tokens(40);
  for (auto& t : tokens) t = int32_t(rng.uniform_int(0, config.vocab_size - 1));
  const size_t P = 7;
  const int64_t V = config.vocab_size;

  KvCache c1(fused.kv_cache_config(64, kBlockSize));
  const auto a = run(fused, c1, 1, tokens, P);
  KvCache c2(simple.kv_cache_config(64, kBlockSize));
  const auto b = run(simple, c2, 1, tokens, P);
  ASSERT_EQ(a.size(), b.size());
  for (size_t t = 0; t < a.size() / V; ++t)
    EXPECT_LE(relative_error({a.data() + t * V, size_t(V)}, {b.data() + t * V, size_t(V)}), 1e-5)
        << "row " << t;

  KvCache c3(fused.kv_cache_config(64, kBlockSize));
  for (int32_t g = 0; g < c3.num_groups(); ++g) {  // scramble every free queue
    BlockAllocator& al = c3.allocator(g);
    std::vector<int32_t> ids = al.allocate(al.available());
    std::shuffle(ids.begin(), ids.end(), rng.engine());
    for (int32_t id : ids) al.release(id);
  }
  const auto s = run(fused, c3, 1, tokens, P);
  ASSERT_EQ(s.size(), a.size());
  EXPECT_EQ(std::memcmp(s.data(), a.data(), a.size() * sizeof(float)), 0);

  // Batch: this sequence with two others of different lengths, decoded together.
  KvCache c4(fused.kv_cache_config(192, kBlockSize));
  c4.add_sequence(1);
  c4.add_sequence(2);
  c4.add_sequence(3);
  fused.prefill(c4, 1, std::span<const int32_t>(tokens.data(), P));
  fused.prefill(c4, 2, std::span<const int32_t>(tokens.data() + 3, 13));
  fused.prefill(c4, 3, std::span<const int32_t>(tokens.data() + 1, 2));
  std::vector<float> batched;
  const std::vector<SeqId> seqs = {2, 1, 3};
  for (size_t i = P; i < tokens.size(); ++i) {
    const std::vector<int32_t> step = {tokens[(i * 7) % tokens.size()], tokens[i], tokens[i / 2]};
    const auto l = fused.decode(c4, seqs, step);
    batched.insert(batched.end(), l.begin() + V, l.begin() + 2 * V);  // sequence 1's row
  }
  EXPECT_EQ(std::memcmp(batched.data(), a.data() + P * V, batched.size() * sizeof(float)), 0);
}

INSTANTIATE_TEST_SUITE_P(Families, FusedDecodeModel,
                         testing::Values("llama3", "qwen3", "gemma3", "llama4"));

}  // namespace
}  // namespace pagedkv
