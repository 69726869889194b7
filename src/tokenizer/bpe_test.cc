// BPE and the tokenizer.json pipeline on small hand-made tokenizers: merge rank order,
// ignore_merges, byte fallback, unk fusing, added-token flags, streaming, and the errors for
// malformed or unsupported files.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/decode_stream.h"
#include "tokenizer/regex.h"
#include "tokenizer/tokenizer.h"

namespace pagedkv {
namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;

json char_bpe(json vocab, json merges) {
  return {{"version", "1.0"},
          {"added_tokens", json::array()},
          {"normalizer", nullptr},
          {"pre_tokenizer", nullptr},
          {"post_processor", nullptr},
          {"decoder", nullptr},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
}

const json kVocab = {{"a", 0}, {"b", 1}, {"c", 2}, {"ab", 3}, {"bc", 4}, {"abc", 5}};

TEST(Bpe, MergesApplyInRankOrder) {
  // a+b has rank 0: "abc" -> ab c -> abc.
  Tokenizer t = Tokenizer::from_json(char_bpe(kVocab, {"a b", "b c", "ab c"}).dump());
  EXPECT_EQ(t.encode("abc"), (Ids{5}));
  // b+c first: a bc, and there is no a+bc merge.
  t = Tokenizer::from_json(char_bpe(kVocab, {"b c", "a b", "ab c"}).dump());
  EXPECT_EQ(t.encode("abc"), (Ids{0, 4}));
  // Equal pairs merge left to right: "abab" -> ab ab.
  EXPECT_EQ(t.encode("abab"), (Ids{3, 3}));
  // Merges in the newer [left, right] form.
  t = Tokenizer::from_json(
      char_bpe(kVocab, json::array({json::array({"a", "b"}), json::array({"ab", "c"})})).dump());
  EXPECT_EQ(t.encode("abcab"), (Ids{5, 3}));
}

TEST(Bpe, IgnoreMergesEmitsWholeWords) {
  json spec = char_bpe(kVocab, json::array({"b c"}));
  Tokenizer t = Tokenizer::from_json(spec.dump());
  EXPECT_EQ(t.encode("abc"), (Ids{0, 4}));
  spec["model"]["ignore_merges"] = true;
  t = Tokenizer::from_json(spec.dump());
  EXPECT_EQ(t.encode("abc"), (Ids{5}));  // the whole word is in the vocabulary
}

TEST(Bpe, LongWordIsNotQuadratic) {
  Tokenizer t = Tokenizer::from_json(char_bpe(kVocab, {"a b", "ab c"}).dump());
  std::string word;
  for (int i = 0; i < 200000; ++i) word += "abc";
  const Ids ids = t.encode(word);
  ASSERT_EQ(ids.size(), 200000u);
  EXPECT_EQ(ids.front(), 5);
}

TEST(Bpe, UnknownCharactersFuseIntoOneUnk) {
  json spec = char_bpe({{"<unk>", 0}, {"a", 1}}, json::array());
  spec["model"]["unk_token"] = "<unk>";
  Tokenizer t = Tokenizer::from_json(spec.dump());
  EXPECT_EQ(t.encode("axyza"), (Ids{1, 0, 0, 0, 1}));
  spec["model"]["fuse_unk"] = true;
  t = Tokenizer::from_json(spec.dump());
  EXPECT_EQ(t.encode("axyza"), (Ids{1, 0, 1}));
  spec["model"]["unk_token"] = nullptr;  // no unk: HF drops the characters
  t = Tokenizer::from_json(spec.dump());
  EXPECT_EQ(t.encode("axyza"), (Ids{1, 1}));
}

json byte_fallback_spec() {
  json vocab = {{"<unk>", 0}, {"a", 1}, {"\xE2\x96\x81", 2}};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    vocab[name] = 3 + b;
  }
  json spec = char_bpe(vocab, json::array());
  spec["model"]["byte_fallback"] = true;
  spec["model"]["unk_token"] = "<unk>";
  spec["normalizer"] = {
      {"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\xE2\x96\x81"}};
  spec["decoder"] = {
      {"type", "Sequence"},
      {"decoders",
       {{{"type", "Replace"}, {"pattern", {{"String", "\xE2\x96\x81"}}}, {"content", " "}},
        {{"type", "ByteFallback"}},
        {{"type", "Fuse"}}}}};
  return spec;
}

TEST(Bpe, ByteFallbackEncodesAndDecodes) {
  Tokenizer t = Tokenizer::from_json(byte_fallback_spec().dump());
  const Ids ids = t.encode("a \xE4\xB8\xAD");  // "a 中"
  EXPECT_EQ(ids, (Ids{1, 2, 3 + 0xE4, 3 + 0xB8, 3 + 0xAD}));
  EXPECT_EQ(t.decode(ids), "a \xE4\xB8\xAD");
  // An incomplete run decodes to one U+FFFD per byte (HF's ByteFallback).
  EXPECT_EQ(t.decode(Ids{3 + 0xE4, 3 + 0xB8, 1}),
            "\xEF\xBF\xBD\xEF\xBF\xBD"
            "a");
  EXPECT_EQ(t.token_to_piece(3 + 0xE4), "\xE4");
  EXPECT_EQ(t.token_to_piece(2), " ");
}

TEST(DecodeStream, NeverEmitsHalfACharacter) {
  Tokenizer t = Tokenizer::from_json(byte_fallback_spec().dump());
  DecodeStream s = t.decode_stream();
  EXPECT_EQ(s.step(1), "a");
  EXPECT_EQ(s.step(3 + 0xE4), "");
  EXPECT_EQ(s.step(3 + 0xB8), "");
  EXPECT_EQ(s.step(3 + 0xAD), "");        // the run may still continue
  EXPECT_EQ(s.step(2), "\xE4\xB8\xAD ");  // it ended: 中 and the space
  EXPECT_EQ(s.step(3 + 0x80), "");
  EXPECT_EQ(s.finish(), "\xEF\xBF\xBD");  // a lone continuation byte, as decode() has it
}

json with_added(json spec, json token) {
  token.emplace("id", 10);
  spec["added_tokens"].push_back(token);
  return spec;
}

TEST(AddedTokens, MatchedBeforeTheModelWithTheirFlags) {
  const json base = char_bpe({{"a", 0}, {" ", 1}, {"b", 2}}, json::array());
  Tokenizer t = Tokenizer::from_json(
      with_added(base, {{"content", "<s>"}, {"special", true}, {"normalized", false}}).dump());
  EXPECT_EQ(t.encode("a <s> b"), (Ids{0, 1, 10, 1, 2}));
  EXPECT_EQ(t.encode("a <s> b", {.parse_special = false}), (Ids{0, 1, 1, 2}));  // <, s, > unknown
  EXPECT_TRUE(t.is_special(10));
  EXPECT_EQ(t.decode(Ids{0, 10, 2}, /*skip_special_tokens=*/true), "a b");
  t = Tokenizer::from_json(
      with_added(base, {{"content", "<s>"}, {"lstrip", true}, {"rstrip", true}, {"special", true}})
          .dump());
  EXPECT_EQ(t.encode("a  <s>  b"), (Ids{0, 10, 2}));  // the spaces on both sides are swallowed
  t = Tokenizer::from_json(with_added(base, {{"content", "ab"}, {"single_word", true}}).dump());
  EXPECT_EQ(t.encode("ab a"), (Ids{10, 1, 0}));
  EXPECT_EQ(t.encode("aab"), (Ids{0, 0, 2}));  // inside a word: not matched
}

TEST(AddedTokens, NormalizedOnesMatchTheNormalizedText) {
  // normalized=true: matched after the normalizer (here ' ' -> '▁'), so " x" finds "▁x";
  // normalized=false tokens are matched in the raw text only.
  json spec = char_bpe({{"\u2581", 0}, {"x", 1}, {"y", 2}}, json::array());
  spec["normalizer"] = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}};
  spec = with_added(spec, {{"content", "\u2581x"}, {"normalized", true}});
  spec["added_tokens"].push_back({{"id", 11}, {"content", "\u2581y"}, {"normalized", false}});
  Tokenizer t = Tokenizer::from_json(spec.dump());
  EXPECT_EQ(t.encode("y x y"), (Ids{2, 10, 0, 2}));
  EXPECT_EQ(t.encode("\u2581y"), (Ids{11}));
}

TEST(Encode, RejectsInvalidUtf8NamingTheOffset) {
  Tokenizer t = Tokenizer::from_json(char_bpe(kVocab, json::array()).dump());
  try {
    t.encode("ab\xC3(");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("offset 2"), std::string::npos) << e.what();
  }
}

void expect_error(const json& spec, ErrorKind kind, const std::string& needle) {
  try {
    Tokenizer::from_json(spec.dump());
    ADD_FAILURE() << "expected an error containing \"" << needle << "\"";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(TokenizerJson, UnsupportedComponentsAreNamed) {
  const json base = char_bpe(kVocab, json::array());
  json s = base;
  s["pre_tokenizer"] = {{"type", "Whitespace"}};
  expect_error(s, ErrorKind::kUnsupported, "unsupported pre_tokenizer type 'Whitespace'");
  s = base;
  s["normalizer"] = {{"type", "Lowercase"}};
  expect_error(s, ErrorKind::kUnsupported, "unsupported normalizer type 'Lowercase'");
  s = base;
  s["decoder"] = {{"type", "WordPiece"}};
  expect_error(s, ErrorKind::kUnsupported, "unsupported decoder type 'WordPiece'");
  s = base;
  s["post_processor"] = {{"type", "BertProcessing"}};
  expect_error(s, ErrorKind::kUnsupported, "unsupported post_processor type 'BertProcessing'");
  s = base;
  s["model"]["type"] = "Unigram";
  expect_error(s, ErrorKind::kUnsupported, "unsupported model type 'Unigram'");
  s = base;
  s["model"]["dropout"] = 0.1;
  expect_error(s, ErrorKind::kUnsupported, "dropout");
  s = base;
  s["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "Sideways"}};
  expect_error(s, ErrorKind::kUnsupported, "split behavior 'Sideways'");
}

TEST(TokenizerJson, MalformedFilesNameTheProblem) {
  expect_error(json("not an object"), ErrorKind::kCorrupt, "expected a JSON object");
  try {
    Tokenizer::from_json("{\"model\": ");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos);
  }
  json s = char_bpe(kVocab, {"a x"});
  expect_error(s, ErrorKind::kCorrupt, "merges[0]: token 'x' is not in the vocabulary");
  s = char_bpe(kVocab, {"abc"});
  expect_error(s, ErrorKind::kCorrupt, "merges[0]: expected \"left right\"");
  s = char_bpe({{"a", "zero"}}, json::array());
  expect_error(s, ErrorKind::kCorrupt, "model.vocab[\"a\"]");
  s = char_bpe(kVocab, json::array());
  s.erase("model");
  expect_error(s, ErrorKind::kCorrupt, "missing field 'model'");
  s = char_bpe(kVocab, json::array());
  s["added_tokens"] = {{{"id", 7}}};
  expect_error(s, ErrorKind::kCorrupt, "added_tokens[0]: missing field 'content'");
  s = char_bpe(kVocab, json::array());
  s["pre_tokenizer"] = {
      {"type", "Split"}, {"pattern", {{"Regex", "(unclosed"}}}, {"behavior", "Isolated"}};
  expect_error(s, ErrorKind::kCorrupt, "does not compile");
  s = char_bpe(kVocab, json::array());
  s["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", {{{"SpecialToken", {{"id", "<s>"}}}}}},
                         {"special_tokens", json::object()}};
  expect_error(s, ErrorKind::kCorrupt, "missing field '<s>'");
  EXPECT_THROW(Tokenizer::from_file("/nonexistent/tokenizer.json"), Error);
}

TEST(Regex, WhitespaceClassIncludesNel) {
  EXPECT_EQ(oniguruma_to_pcre2(R"(\s+(?!\S)|[^\s\p{L}])"),
            R"([\s\x{85}]+(?![^\s\x{85}])|[^\s\x{85}\p{L}])");
}

}  // namespace
}  // namespace pagedkv
