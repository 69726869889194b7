// Real GGUF models against HF transformers loading the same file (tools/make_gguf_fixtures.py:
// SmolLM2-135M-Instruct Q4_1, llama architecture; Gemma 3 270M Q4_K_M): logits within 1e-4
// relative at every prefill and decode step, greedy tokens identical, and a short generation
// through generate_greedy. Plus every dequantizer bit for bit against the gguf package's numpy on
// seeded random blocks, and the metadata -> config mapping. The fixtures are made by
// scripts/test.sh; these tests fail (not skip) without them.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/gguf_file.h"
#include "model/causal_lm.h"
#include "model/gguf_checkpoint.h"
#include "model/gguf_dequant.h"
#include "model/testing/hf_fixture.h"
#include "model/testing/hf_parity.h"

namespace pagedkv {
namespace {

const std::string kFixtures = PAGEDKV_GGUF_FIXTURES;

std::string fixture(const std::string& name) {
  const std::string dir = kFixtures + "/" + name;
  if (!std::ifstream(dir + "/expected.json").good())
    ADD_FAILURE() << "missing " << dir << ": run python3 tools/make_gguf_fixtures.py " << kFixtures
                  << " (scripts/test.sh does)";
  return dir;
}

class GgufHfParity : public testing::TestWithParam<const char*> {};

TEST_P(GgufHfParity, LogitsAndGreedyTokensMatchHfOnTheSameFile) {
  const std::string dir = fixture(GetParam());
  const HfFixture fx = load_hf_fixture(dir);
  const CausalLm model = CausalLm::load(dir + "/model.gguf");
  const double worst = expect_matches_hf(model, fx, 16, 1e-4);
  std::printf("[ %s ] worst relative error %.3g\n", GetParam(), worst);
  // One short real-model generation end to end (prefill + decode, its own cache).
  EXPECT_EQ(generate_greedy(model, fx.prompts[1], int32_t(fx.generated[1].size())),
            fx.generated[1]);
}

INSTANTIATE_TEST_SUITE_P(RealModels, GgufHfParity, testing::Values("smollm2", "gemma3"));

TEST(GgufConfig, MetadataBecomesTheConfigTransformersBuilds) {
  {
    const GgufFile f = GgufFile::open(fixture("smollm2") + "/model.gguf");
    const ModelConfig c = gguf_model_config(f);
    EXPECT_EQ(c.family, "llama3");
    EXPECT_EQ(c.architecture, "LlamaForCausalLM");
    EXPECT_EQ(c.num_layers, 30);
    EXPECT_EQ(c.hidden_size, 576);
    EXPECT_EQ(c.num_heads, 9);
    EXPECT_EQ(c.num_kv_heads, 3);
    EXPECT_EQ(c.head_dim, 64);
    EXPECT_EQ(c.vocab_size, 49152);
    EXPECT_EQ(c.max_position_embeddings, 8192);
    EXPECT_TRUE(c.tie_word_embeddings);  // no output.weight
    EXPECT_EQ(c.layers[0].rope.theta, 100000.0);
    EXPECT_EQ(c.rms_norm_eps, double(1e-5f));
  }
  {
    const GgufFile f = GgufFile::open(fixture("gemma3") + "/model.gguf");
    const ModelConfig c = gguf_model_config(f);
    EXPECT_EQ(c.family, "gemma3");
    EXPECT_EQ(c.num_layers, 18);
    EXPECT_EQ(c.head_dim, 256);
    EXPECT_EQ(c.num_kv_heads, 1);
    EXPECT_EQ(c.vocab_size, 262144);
    // Gemma3TextConfig defaults for what GGUF does not say: every 6th layer global.
    for (int64_t i = 0; i < c.num_layers; ++i) {
      const bool global = (i + 1) % 6 == 0;
      EXPECT_EQ(c.layers[i].attention.kind == AttentionKind::kFull, global) << "layer " << i;
      EXPECT_EQ(c.layers[i].rope.theta, global ? 1e6 : 1e4) << "layer " << i;
      if (!global) {
        EXPECT_EQ(c.layers[i].attention.window, 512);
      }
    }
    // Gemma norms are stored as 1 + w.
    const GgufTensors t(f, c);
    const std::vector<float> w = t.read_f32("model.norm.weight", {640});
    const GgufTensorInfo& raw = t.gguf_tensor("model.norm.weight");
    float first;
    std::memcpy(&first, raw.data, 4);
    EXPECT_EQ(w[0], first - 1.0f);
  }
}

// llama.cpp's converter permutes the rows of llama q/k projections (pairs interleaved per head);
// the loader undoes it as transformers does: row h*2d + b*d + a <- h*2d + 2a + b.
TEST(GgufConfig, LlamaQkRowsAreUnpermuted) {
  const GgufFile f = GgufFile::open(fixture("smollm2") + "/model.gguf");
  const ModelConfig c = gguf_model_config(f);
  const GgufTensors t(f, c);
  const int64_t H = c.hidden_size, D = c.head_dim;
  const std::string k = "model.layers.3.self_attn.k_proj.weight";
  const std::vector<float> hf = t.read_f32(k, {c.num_kv_heads * D, H});
  const GgufTensorInfo& raw = t.gguf_tensor(k);
  std::vector<float> file(size_t(raw.numel()));
  gguf_dequantize(raw.type, raw.data, raw.numel(), file.data());
  const int64_t d = D / 2;
  for (int64_t h = 0; h < c.num_kv_heads; ++h)
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t a = 0; a < d; ++a)
        for (int64_t col : {int64_t(0), H - 1})
          ASSERT_EQ(hf[size_t((h * D + b * d + a) * H + col)],
                    file[size_t((h * D + 2 * a + b) * H + col)]);
  // v is not permuted.
  const std::string v = "model.layers.3.self_attn.v_proj.weight";
  const std::vector<float> hv = t.read_f32(v, {c.num_kv_heads * D, H});
  const GgufTensorInfo& rv = t.gguf_tensor(v);
  std::vector<float> fv(size_t(rv.numel()));
  gguf_dequantize(rv.type, rv.data, rv.numel(), fv.data());
  EXPECT_EQ(hv, fv);
}

// Every supported type, seeded random blocks (finite scales), against gguf.quants.dequantize.
TEST(GgufDequant, EveryTypeMatchesTheGgufPackageBitForBit) {
  const std::string dir = kFixtures + "/dequant";
  std::ifstream in(dir + "/expected.json");
  ASSERT_TRUE(in.good()) << "missing " << dir << ": run tools/make_gguf_fixtures.py";
  const nlohmann::json expected = nlohmann::json::parse(in);
  const GgufFile f = GgufFile::open(dir + "/dequant.gguf");
  ASSERT_EQ(expected.size(), 13u);
  for (const auto& [type, e] : expected.items()) {
    SCOPED_TRACE(type);
    const GgufTensorInfo* t = f.find_tensor("t." + type);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(ggml_type_name(t->type), type);
    const int64_t n = e["elements"].get<int64_t>();
    ASSERT_EQ(t->numel(), n);
    std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
    std::ifstream bin(dir + "/" + e["file"].get<std::string>(), std::ios::binary);
    bin.read(reinterpret_cast<char*>(want.data()), std::streamsize(n * 4));
    ASSERT_TRUE(bin.good());
    gguf_dequantize(t->type, t->data, n, got.data());
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(f32_bits(got[size_t(i)]), f32_bits(want[size_t(i)]))
          << "element " << i << ": " << got[size_t(i)] << " vs " << want[size_t(i)];
  }
}

TEST(GgufDequant, UnsupportedTypesAreNamed) {
  std::vector<std::byte> block(256);
  float out[256];
  try {
    gguf_dequantize(uint32_t(GgmlType::kIQ2_XXS), block.data(), 256, out);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("IQ2_XXS"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pagedkv
