// Hostile config.json values (issue 20): every impossible value is refused by name before any
// arithmetic or allocation sees it — zero or negative divisors, intervals, windows, scales and
// epsilons, floats or out-of-range numbers in integer fields, non-string architectures, unknown
// layer types, sizes whose products overflow, deep nesting. Each case patches a real fixture
// config (testdata/<family>/config.json) and expects Error(Corrupt / Unsupported) whose message
// names the key.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "model/model_config.h"

namespace pagedkv {
namespace {

using nlohmann::json;

json fixture_config(const std::string& family) {
  std::ifstream in("testdata/" + family + "/config.json");
  return json::parse(in);
}

struct Case {
  const char* family;
  const char* patch;  // JSON object merged into the fixture's config (null removes a key)
  const char* names;  // the error message must contain this
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.family << " " << c.patch; }

class HostileConfig : public ::testing::TestWithParam<Case> {};

TEST_P(HostileConfig, IsRefusedNamingTheKey) {
  const Case& c = GetParam();
  json j = fixture_config(c.family);
  j.merge_patch(json::parse(c.patch));
  try {
    const ModelConfig m = parse_model_config(j);
    FAIL() << "accepted: " << c.patch << " (" << m.num_layers << " layers)";
  } catch (const Error& e) {
    EXPECT_TRUE(e.kind() == ErrorKind::kCorrupt || e.kind() == ErrorKind::kUnsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find(c.names), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(
    Values, HostileConfig,
    ::testing::Values(
        // Divisors, intervals, windows, chunks, scales, epsilons: zero or negative.
        Case{"llama4", R"({"no_rope_layer_interval": 0})", "'no_rope_layer_interval'"},
        Case{"llama4", R"({"no_rope_layer_interval": -4})", "'no_rope_layer_interval'"},
        Case{"llama4", R"({"floor_scale": 0})", "'floor_scale' must be > 0"},
        Case{"llama4", R"({"floor_scale": -8192})", "'floor_scale'"},
        Case{"llama4", R"({"attn_scale": -0.1})", "'attn_scale'"},
        Case{"llama4", R"({"attention_chunk_size": 0})", "'attention_chunk_size'"},
        Case{"llama4", R"({"interleave_moe_layer_step": 0})", "'interleave_moe_layer_step'"},
        Case{"gemma3", R"({"query_pre_attn_scalar": 0})", "'query_pre_attn_scalar' must be > 0"},
        Case{"gemma3", R"({"query_pre_attn_scalar": -256})", "'query_pre_attn_scalar'"},
        Case{"gemma3", R"({"sliding_window": 0})", "'sliding_window'"},
        Case{"gemma3", R"({"sliding_window": -4})", "'sliding_window'"},
        Case{"gemma3", R"({"sliding_window_pattern": 0})", "'sliding_window_pattern'"},
        Case{"gemma3", R"({"final_logit_softcapping": -30})", "'final_logit_softcapping'"},
        Case{"gemma3", R"({"attn_logit_softcapping": -50})", "'attn_logit_softcapping'"},
        Case{"mistral", R"({"sliding_window": 0})", "'sliding_window'"},
        Case{"qwen2", R"({"use_sliding_window": true, "sliding_window": -1})", "'sliding_window'"},
        Case{"qwen3", R"({"rms_norm_eps": -1e-6})", "'rms_norm_eps' must be > 0"},
        Case{"llama3", R"({"rms_norm_eps": 0})", "'rms_norm_eps'"},
        Case{"llama3", R"({"rope_theta": 0})", "'rope_theta'"},
        Case{"llama3", R"({"rope_scaling": {"rope_type": "linear", "factor": 0}})",
             "'rope_scaling.factor'"},
        Case{"llama4", R"({"rope_scaling": {"original_max_position_embeddings": 0}})",
             "'rope_scaling.original_max_position_embeddings'"},
        Case{"llama4", R"({"rope_scaling": {"low_freq_factor": 0}})",
             "'rope_scaling.low_freq_factor'"},
        Case{"llama4", R"({"rope_scaling": {"low_freq_factor": 4, "high_freq_factor": 1}})",
             "'rope_scaling.high_freq_factor'"},
        // 32-bit windows: 2^32 would be truncated by the kernels.
        Case{"gemma3", R"({"sliding_window": 4294967296})", "'sliding_window' must be in [1, "},
        Case{"llama4", R"({"attention_chunk_size": 4294967304})", "'attention_chunk_size'"},
        // Integer fields: integers in range, not floats, strings or 2^64 - 1.
        Case{"llama3", R"({"num_hidden_layers": 4.5})", "'num_hidden_layers' must be an integer"},
        Case{"llama3", R"({"vocab_size": 1e30})", "'vocab_size' must be an integer, got 1e+30"},
        Case{"llama3", R"({"vocab_size": 18446744073709551615})", "'vocab_size'"},
        Case{"llama3", R"({"hidden_size": "big"})", "'hidden_size' must be an integer"},
        Case{"llama3", R"({"max_position_embeddings": -1})", "'max_position_embeddings'"},
        Case{"llama3", R"({"tie_word_embeddings": 1})", "'tie_word_embeddings' must be a boolean"},
        Case{"llama4", R"({"no_rope_layers": [1, 1, 2.5, 0]})", "'no_rope_layers[2]'"},
        Case{"llama4", R"({"no_rope_layers": [1, 1, 7, 0]})", "'no_rope_layers[2]'"},
        Case{"llama4", R"({"moe_layers": [1, 9]})", "moe_layers entry 9"},
        Case{"llama4", R"({"num_experts_per_tok": 0})", "'num_experts_per_tok'"},
        Case{"llama4", R"({"num_experts_per_tok": 5})", "'num_experts_per_tok' must be in [1, 4]"},
        // Sizes that would allocate gigabytes or overflow products.
        Case{"llama3", R"({"num_hidden_layers": 10000000})", "'num_hidden_layers'"},
        Case{"llama3", R"({"num_attention_heads": 2147483647, "head_dim": 2147483647})",
             "'num_attention_heads'"},
        Case{"llama3", R"({"head_dim": 65536})", "'head_dim'"},
        Case{"llama3", R"({"head_dim": 31})", "head_dim must be even"},
        Case{"llama3", R"({"num_key_value_heads": 3})", "multiple of num_key_value_heads"},
        Case{"llama3", R"({"vocab_size": 0})", "'vocab_size'"},
        // Types and kinds the family does not have.
        Case{"llama3", R"({"architectures": [5]})", "'architectures[0]' must be a string"},
        Case{"llama3", R"({"architectures": "LlamaForCausalLM"})", "'architectures' must be an"},
        Case{"qwen3", R"({"layer_types": ["full_attention", "weird_attention", "full_attention",
                                  "full_attention", "full_attention", "full_attention"]})",
             "layer_types[1] is 'weird_attention'"},
        Case{"gemma3", R"({"layer_types": ["chunked_attention", "full_attention", "full_attention",
                                   "full_attention", "full_attention", "full_attention"]})",
             "layer_types[0]"},
        Case{"llama4", R"({"layer_types": ["sliding_attention", "full_attention", "full_attention",
                                   "full_attention", "full_attention", "full_attention"]})",
             "layer_types[0]"}));

TEST(HostileConfig, ContainerKeysAreNamedWithTheirPrefix) {
  try {
    parse_model_config(json{{"architectures", {"Gemma3ForConditionalGeneration"}},
                            {"text_config", {{"num_hidden_layers", 2.5}}}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'text_config.num_hidden_layers'"), std::string::npos)
        << e.what();
  }
}

TEST(HostileConfig, DeepNestingIsRefusedBeforeParsing) {
  // 100k levels in a 200 KB file: refused by the depth bound, never copied or echoed.
  const std::string deep = R"({"architectures": ["LlamaForCausalLM"], "rope_scaling": )" +
                           std::string(100000, '[') + std::string(100000, ']') + "}";
  try {
    parse_model_config_text(deep, "dir/config.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("dir/config.json: JSON nested deeper than 128"),
              std::string::npos)
        << e.what();
  }
  // A deep value of a known key, within the bound: a type error naming the key, not an echo.
  const std::string nested = R"({"architectures": ["LlamaForCausalLM"], "vocab_size": )" +
                             std::string(100, '[') + std::string(100, ']') + "}";
  try {
    parse_model_config_text(nested, "dir/config.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'vocab_size' must be an integer, got an array of 1"),
              std::string::npos)
        << e.what();
  }
}

TEST(HostileConfig, EveryFixtureStillParses) {
  for (const char* f : {"llama3", "mistral", "qwen2", "qwen3", "gemma3", "llama4"})
    EXPECT_NO_THROW(parse_model_config(fixture_config(f))) << f;
}

}  // namespace
}  // namespace pagedkv
