// Chat templates of the real families (Llama 3.1, Qwen 3, Gemma 3, SmolLM2) rendered by pagedkv's
// Jinja interpreter against transformers' apply_chat_template(..., tokenize=False) over a fixed set
// of conversations, with and without the generation prompt, and Qwen 3's enable_thinking on/off.

#include <gtest/gtest.h>

#include "core/error.h"
#include "tokenizer/hf_fixture.h"
#include "tokenizer/model_tokenizer.h"

namespace pagedkv {
namespace {

class ChatTemplateHf : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateHf, RendersExactlyAsTransformers) {
  const std::string family = GetParam();
  const auto& fx = testing::family_fixture(family);
  const ModelTokenizer m = ModelTokenizer::load(fx.dir);
  ASSERT_TRUE(m.chat_template.has_value()) << family << ": no chat template loaded";
  const auto& cases = fx.expected.at("chat");
  ASSERT_FALSE(cases.empty());
  size_t matched = 0;
  for (const auto& c : cases) {
    const auto& conv = testing::conversations().at(c["conversation"].get<size_t>());
    ChatOptions options{c["add_generation_prompt"].get<bool>(), c["extra"]};
    const std::string what = family + " conversation " + c["conversation"].dump() +
                             " add_generation_prompt=" + c["add_generation_prompt"].dump() +
                             " extra=" + c["extra"].dump();
    if (c.contains("error")) {
      try {
        const std::string text = m.chat_template->render(conv, options);
        ADD_FAILURE() << what << ": expected the template to raise \"" << c["error"] << "\", got\n"
                      << text;
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(c["error"].get<std::string>()), std::string::npos)
            << what << ": " << e.what();
        ++matched;
      }
      continue;
    }
    const std::string want = c["text"].get<std::string>();
    std::string got;
    try {
      got = m.chat_template->render(conv, options);
    } catch (const Error& e) {
      ADD_FAILURE() << what << ": " << e.what();
      continue;
    }
    EXPECT_EQ(got, want) << what;
    matched += got == want;
  }
  std::cout << "[ " << family << " ] chat: " << matched << "/" << cases.size()
            << " renders identical to transformers\n";
}

INSTANTIATE_TEST_SUITE_P(Families, ChatTemplateHf,
                         ::testing::Values("llama3", "qwen3", "gemma3", "smollm2"));

TEST(GenerationConfigHf, FixtureFilesLoad) {
  const ModelTokenizer llama = ModelTokenizer::load(testing::family_fixture("llama3").dir);
  EXPECT_EQ(llama.eos_ids(), (std::vector<int32_t>{128001, 128008, 128009}));
  EXPECT_EQ(llama.tokenizer.bos_ids(), (std::vector<int32_t>{128000}));
  EXPECT_EQ(llama.special_tokens.bos_token, "<|begin_of_text|>");
  EXPECT_DOUBLE_EQ(llama.generation.temperature.value(), 0.6);
  const ModelTokenizer qwen = ModelTokenizer::load(testing::family_fixture("qwen3").dir);
  EXPECT_EQ(qwen.eos_ids(), (std::vector<int32_t>{151645, 151643}));
  EXPECT_TRUE(qwen.tokenizer.bos_ids().empty());
  EXPECT_FALSE(qwen.special_tokens.bos_token.has_value());
  EXPECT_EQ(qwen.generation.top_k, 20);
  const ModelTokenizer gemma = ModelTokenizer::load(testing::family_fixture("gemma3").dir);
  EXPECT_EQ(gemma.eos_ids(), (std::vector<int32_t>{1, 106}));
  EXPECT_EQ(gemma.tokenizer.bos_ids(), (std::vector<int32_t>{2}));
  EXPECT_EQ(gemma.tokenizer.token_to_id("<end_of_turn>"), 106);
  EXPECT_TRUE(gemma.tokenizer.is_special(106));
}

}  // namespace
}  // namespace pagedkv
