// The tokenizer of a GGUF file against transformers' own GGUF -> tokenizer conversion
// (AutoTokenizer.from_pretrained(dir, gguf_file=...), recorded by tools/make_gguf_fixtures.py) on
// the tokenizer fixture corpus: ids with and without BOS, decode, chat template renders, special
// ids. SmolLM2 (gpt2: byte-level BPE with the file's merges) and Gemma 3 (llama: SentencePiece
// pieces, merges derived from the vocabulary). Fails, not skips, without the fixtures.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/model_tokenizer.h"

namespace pagedkv {
namespace {

const std::string kFixtures = PAGEDKV_GGUF_FIXTURES;

nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  if (!in.good()) {
    ADD_FAILURE() << "missing " << path << ": run python3 tools/make_gguf_fixtures.py " << kFixtures
                  << " (scripts/test.sh does)";
    return nlohmann::json::object();
  }
  return nlohmann::json::parse(in);
}

class GgufTokenizer : public testing::TestWithParam<const char*> {};

TEST_P(GgufTokenizer, EncodesDecodesAndRendersLikeTransformersConversion) {
  const std::string dir = kFixtures + "/" + GetParam();
  const nlohmann::json exp = load_json(dir + "/expected.json");
  const nlohmann::json corpus = load_json(kFixtures + "/corpus.json");
  ASSERT_TRUE(exp.contains("tokenizer"));
  const nlohmann::json& t = exp["tokenizer"];
  const ModelTokenizer m = ModelTokenizer::load(dir + "/model.gguf");
  const Tokenizer& tok = m.tokenizer;
  EXPECT_EQ(int64_t(tok.vocab_size()), t["vocab_size"].get<int64_t>());
  ASSERT_EQ(corpus.size(), t["corpus_ids"].size());
  int mismatches = 0;
  for (size_t i = 0; i < corpus.size() && mismatches < 5; ++i) {
    const std::string text = corpus[i].get<std::string>();
    SCOPED_TRACE(str_cat("doc ", i, ": ", text.substr(0, 60)));
    const auto ids = tok.encode(text);
    const auto want = t["corpus_ids"][i].get<std::vector<int32_t>>();
    if (ids != want) ++mismatches;
    EXPECT_EQ(ids, want);
    EXPECT_EQ(tok.encode(text, {.add_special_tokens = true}),
              t["bos_ids"][i].get<std::vector<int32_t>>());
    EXPECT_EQ(tok.decode(want), t["decode"][i].get<std::string>());
  }
  if (t.contains("eos_token_id") && !t["eos_token_id"].is_null()) {
    EXPECT_EQ(m.eos_ids(), std::vector<int32_t>{t["eos_token_id"].get<int32_t>()});
  }
  if (t.contains("chat")) {
    ASSERT_TRUE(m.chat_template.has_value()) << "the file has tokenizer.chat_template";
    const nlohmann::ordered_json convs = nlohmann::ordered_json::parse(R"([
      [{"role": "user", "content": "What is a paged KV cache?"}],
      [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
       {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "A joke?"}]])");
    for (size_t c = 0; c < convs.size(); ++c)
      EXPECT_EQ(m.chat_template->render(convs[c], {.add_generation_prompt = true}),
                t["chat"][c].get<std::string>());
  }
}

INSTANTIATE_TEST_SUITE_P(RealModels, GgufTokenizer, testing::Values("smollm2", "gemma3"));

TEST(GgufTokenizerErrors, NotAGgufFileIsNamed) {
  const std::string path = testing::TempDir() + "/not_a_model.gguf";
  std::ofstream(path) << "GGUX not really";
  try {
    ModelTokenizer::load(path);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("not a GGUF file"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pagedkv
