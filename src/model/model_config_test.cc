// config.json parsing: both formats of every fixture resolve to the same per-layer description,
// absent keys take HF's family defaults, unknown architectures are refused by name.

#include "model/model_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace pagedkv {
namespace {

using nlohmann::json;

void expect_same(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.num_layers, b.num_layers);
  EXPECT_EQ(a.num_heads, b.num_heads);
  EXPECT_EQ(a.num_kv_heads, b.num_kv_heads);
  EXPECT_EQ(a.head_dim, b.head_dim);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.query_scale, b.query_scale);
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    SCOPED_TRACE(str_cat("layer ", i));
    const LayerConfig &x = a.layers[i], &y = b.layers[i];
    EXPECT_EQ(x.attention, y.attention);
    EXPECT_EQ(x.temperature_tuning, y.temperature_tuning);
    EXPECT_EQ(x.mlp_size, y.mlp_size);
    EXPECT_EQ(x.use_rope, y.use_rope);
    EXPECT_EQ(x.moe, y.moe);
    EXPECT_EQ(x.rope.type, y.rope.type);
    EXPECT_EQ(x.rope.theta, y.rope.theta);
    EXPECT_EQ(x.rope.factor, y.rope.factor);
  }
}

TEST(ModelConfig, BothFormatsAgreeForEveryFixture) {
  for (const char* f : {"llama3", "qwen3", "gemma3", "llama4", "mistral", "qwen2"}) {
    SCOPED_TRACE(f);
    expect_same(load_model_config(str_cat("testdata/", f)),
                load_model_config(str_cat("testdata/", f), "config_v5.json"));
  }
}

TEST(ModelConfig, Gemma3LayerPatternAndRopeBases) {
  const ModelConfig c = load_model_config("testdata/gemma3");
  ASSERT_EQ(c.num_layers, 6);
  for (int i = 0; i < 6; ++i) {
    const bool global = (i + 1) % 6 == 0;
    EXPECT_EQ(c.layers[i].attention, global ? AttentionRule::full() : AttentionRule::sliding(8))
        << i;
    EXPECT_EQ(c.layers[i].rope.theta, global ? 1e6 : 1e4) << i;
    EXPECT_EQ(c.layers[i].rope.type, global ? RopeType::kLinear : RopeType::kDefault) << i;
  }
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(c.query_scale, 1.0 / std::sqrt(48.0));
}

TEST(ModelConfig, MistralAndQwen2Layouts) {
  const ModelConfig m = load_model_config("testdata/mistral");
  EXPECT_EQ(m.family, "mistral");
  for (const LayerConfig& l : m.layers) EXPECT_EQ(l.attention, AttentionRule::sliding(8));
  EXPECT_FALSE(m.qkv_bias || m.o_bias);
  EXPECT_EQ(m.head_dim, 32);  // explicit, not hidden / heads = 16
  // MistralConfig's default window is 4096; an explicit null means full attention.
  EXPECT_EQ(parse_model_config(json{{"architectures", {"MistralForCausalLM"}}}).layers[0].attention,
            AttentionRule::sliding(4096));
  EXPECT_EQ(parse_model_config(
                json{{"architectures", {"MistralForCausalLM"}}, {"sliding_window", nullptr}})
                .layers[0]
                .attention,
            AttentionRule::full());

  const ModelConfig q = load_model_config("testdata/qwen2");
  EXPECT_EQ(q.family, "qwen2");
  ASSERT_EQ(q.num_layers, 4);
  for (int i = 0; i < 4; ++i)  // max_window_layers 2: layers 0-1 full, 2-3 slide
    EXPECT_EQ(q.layers[i].attention, i < 2 ? AttentionRule::full() : AttentionRule::sliding(8))
        << i;
  EXPECT_TRUE(q.qkv_bias);  // q/k/v projections have biases...
  EXPECT_FALSE(q.o_bias);   // ...o_proj never does
  EXPECT_EQ(q.qk_norm, QkNorm::kNone);
  EXPECT_TRUE(q.tie_word_embeddings);
}

TEST(ModelConfig, AbsentKeysTakeFamilyDefaults) {
  const ModelConfig g =
      parse_model_config(json{{"architectures", {"Gemma3ForCausalLM"}}, {"num_hidden_layers", 12}});
  EXPECT_TRUE(g.tie_word_embeddings);
  EXPECT_EQ(g.head_dim, 256);
  EXPECT_EQ(g.layers[5].attention, AttentionRule::full());
  EXPECT_EQ(g.layers[4].attention, AttentionRule::sliding(4096));
  EXPECT_EQ(g.layers[4].rope.theta, 10000.0);
  EXPECT_EQ(g.layers[5].rope.theta, 1e6);
  EXPECT_EQ(g.activation, Activation::kGeluTanh);

  const ModelConfig l = parse_model_config(json{
      {"architectures", {"LlamaForCausalLM"}}, {"hidden_size", 256}, {"num_attention_heads", 8}});
  EXPECT_FALSE(l.tie_word_embeddings);
  EXPECT_EQ(l.head_dim, 32);
  EXPECT_EQ(l.num_kv_heads, 8);
  EXPECT_EQ(l.layers[0].rope.theta, 10000.0);

  const ModelConfig m = parse_model_config(json{{"architectures", {"Llama4ForCausalLM"}},
                                                {"num_hidden_layers", 8},
                                                {"interleave_moe_layer_step", 2}});
  EXPECT_EQ(m.layers[0].use_rope, true);
  EXPECT_EQ(m.layers[3].use_rope, false);
  EXPECT_EQ(m.layers[3].attention, AttentionRule::full());
  EXPECT_EQ(m.layers[2].attention, AttentionRule::chunked(8192));
  EXPECT_EQ(m.layers[2].mlp_size, 16384);
  EXPECT_EQ(m.expert_size, 8192);
  EXPECT_FALSE(m.layers[0].moe);
  EXPECT_TRUE(m.layers[1].moe);
  EXPECT_EQ(m.qk_norm, QkNorm::kWeightlessAfterRope);
  EXPECT_EQ(m.rope_style, RopeStyle::kInterleaved);
  EXPECT_TRUE(m.layers[3].temperature_tuning);
  EXPECT_FALSE(m.layers[2].temperature_tuning);
  EXPECT_EQ(m.layers[0].rope.theta, 500000.0);

  const ModelConfig q = parse_model_config(json{{"architectures", {"Qwen3ForCausalLM"}}});
  EXPECT_EQ(q.qk_norm, QkNorm::kLearnedBeforeRope);
  EXPECT_EQ(q.head_dim, 128);
  EXPECT_EQ(q.layers[31].attention, AttentionRule::full());
}

TEST(ModelConfig, UnknownArchitectureAndRopeTypeAreRefused) {
  try {
    parse_model_config(json{{"architectures", {"GPT2LMHeadModel"}}, {"model_type", "gpt2"}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("GPT2LMHeadModel"), std::string::npos) << e.what();
  }
  try {
    parse_model_config(json{{"architectures", {"LlamaForCausalLM"}},
                            {"rope_scaling", {{"rope_type", "yarn"}, {"factor", 4.0}}}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("yarn"), std::string::npos) << e.what();
  }
  EXPECT_THROW(
      parse_model_config(json{{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", "big"}}),
      Error);
}

// *ForConditionalGeneration containers: the family's text model from text_config (absent keys:
// the text config class's defaults), top-level keys where HF's container reads them.
TEST(ModelConfig, ContainersReadTheirTextConfig) {
  const ModelConfig g =
      parse_model_config(json{{"architectures", {"Gemma3ForConditionalGeneration"}},
                              {"text_config",
                               {{"hidden_size", 2560},
                                {"num_hidden_layers", 34},
                                {"rope_scaling", {{"factor", 8.0}, {"rope_type", "linear"}}},
                                {"sliding_window", 1024}}},
                              {"vision_config", {{"hidden_size", 1152}}}});
  EXPECT_EQ(g.family, "gemma3");
  EXPECT_TRUE(g.container);
  EXPECT_EQ(g.hidden_size, 2560);
  EXPECT_EQ(g.num_layers, 34);
  EXPECT_EQ(g.vocab_size, 262208);  // Gemma3TextConfig default, as gemma-3-4b's config omits it
  EXPECT_TRUE(g.tie_word_embeddings);
  EXPECT_EQ(g.layers[5].rope.factor, 8.0);
  EXPECT_EQ(g.layers[0].attention.window, 1024);
  // Gemma3ForConditionalGeneration ties by its own (top-level) tie_word_embeddings.
  const ModelConfig untied = parse_model_config(json{
      {"model_type", "gemma3"}, {"tie_word_embeddings", false}, {"text_config", json::object()}});
  EXPECT_TRUE(untied.container);
  EXPECT_FALSE(untied.tie_word_embeddings);
  // Llama 4: the text model ties by text_config.
  const ModelConfig l = parse_model_config(
      json{{"architectures", {"Llama4ForConditionalGeneration"}},
           {"tie_word_embeddings", true},
           {"text_config", {{"num_hidden_layers", 4}, {"num_local_experts", 4}}}});
  EXPECT_EQ(l.family, "llama4");
  EXPECT_TRUE(l.container);
  EXPECT_FALSE(l.tie_word_embeddings);
  EXPECT_EQ(l.num_layers, 4);
  try {
    parse_model_config(
        json{{"architectures", {"Gemma3ForConditionalGeneration"}}, {"text_config", "oops"}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("text_config"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pagedkv
