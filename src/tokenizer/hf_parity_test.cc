// pagedkv's tokenizer against Hugging Face `tokenizers` / `transformers` on real vocabularies
// (Llama 3, Qwen 3, Gemma 3, Gemma 3 with Metaspace): every corpus document's ids, decode
// round trips, streaming, random id sequences with invalid UTF-8, special tokens. Any difference
// is a failure; so is a missing fixture.

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "tokenizer/decode_stream.h"
#include "tokenizer/hf_fixture.h"
#include "tokenizer/tokenizer.h"

namespace pagedkv {
namespace {

using testing::corpus;
using testing::family_fixture;

const Tokenizer& tokenizer_of(const std::string& family) {
  static std::map<std::string, Tokenizer> cache;
  auto it = cache.find(family);
  if (it == cache.end()) {
    it = cache.emplace(family, Tokenizer::from_file(family_fixture(family).dir / "tokenizer.json")).first;
  }
  return it->second;
}

std::string show_ids(const std::vector<int32_t>& ids, size_t from, size_t n = 12) {
  std::ostringstream os;
  for (size_t i = from; i < std::min(ids.size(), from + n); ++i) os << ids[i] << ' ';
  return os.str();
}

// First position where two id lists differ, described for a failure message.
std::string diff_ids(const std::vector<int32_t>& got, const std::vector<int32_t>& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  const size_t from = i >= 4 ? i - 4 : 0;
  return "first difference at id index " + std::to_string(i) + " (sizes " +
         std::to_string(got.size()) + " vs " + std::to_string(want.size()) + ")\n  pagedkv: " +
         show_ids(got, from) + "\n  HF:      " + show_ids(want, from);
}

class HfParity : public ::testing::TestWithParam<std::string> {};

void check_encode(const std::string& family, const char* key, EncodeOptions options) {
  const Tokenizer& tok = tokenizer_of(family);
  const auto& expected = family_fixture(family).expected.at(key);
  const auto& docs = corpus();
  ASSERT_EQ(expected.size(), docs.size());
  size_t matched = 0, ids = 0;
  for (size_t d = 0; d < docs.size(); ++d) {
    const auto want = expected[d].get<std::vector<int32_t>>();
    const auto got = tok.encode(docs[d], options);
    if (got == want) {
      ++matched;
      ids += want.size();
    } else {
      ADD_FAILURE() << family << " " << key << ": document " << d << " differs: "
                    << diff_ids(got, want) << "\n  text: " << docs[d].substr(0, 200);
    }
  }
  EXPECT_EQ(matched, docs.size());
  std::cout << "[ " << family << " ] " << key << ": " << matched << "/" << docs.size()
            << " documents identical (" << ids << " ids)\n";
}

TEST_P(HfParity, EncodeMatchesHf) { check_encode(GetParam(), "encode", {}); }

TEST_P(HfParity, EncodeWithBosMatchesHf) {
  check_encode(GetParam(), "encode_bos", {.add_special_tokens = true});
}

TEST_P(HfParity, EncodeSpecialAsTextMatchesHf) {
  check_encode(GetParam(), "encode_plain", {.parse_special = false});
}

TEST_P(HfParity, DecodeMatchesHf) {
  const std::string family = GetParam();
  const Tokenizer& tok = tokenizer_of(family);
  const auto& exp = family_fixture(family).expected;
  for (size_t d = 0; d < corpus().size(); ++d) {
    const auto ids = exp["encode"][d].get<std::vector<int32_t>>();
    EXPECT_EQ(tok.decode(ids), exp["decode"][d].get<std::string>()) << family << " document " << d;
    EXPECT_EQ(tok.decode(ids, true), exp["decode_skip"][d].get<std::string>())
        << family << " document " << d << " (skip special)";
    // Round trip wherever HF round-trips.
    if (exp["decode"][d].get<std::string>() == corpus()[d]) {
      EXPECT_EQ(tok.decode(tok.encode(corpus()[d])), corpus()[d]) << family << " document " << d;
    }
  }
}

std::string stream_all(const Tokenizer& tok, const std::vector<int32_t>& ids, bool skip) {
  DecodeStream stream = tok.decode_stream(skip);
  std::string out;
  for (int32_t id : ids) {
    const std::string piece = stream.step(id);
    out += piece;
  }
  out += stream.finish();
  return out;
}

TEST_P(HfParity, StreamingEqualsDecode) {
  const std::string family = GetParam();
  const Tokenizer& tok = tokenizer_of(family);
  const auto& exp = family_fixture(family).expected;
  for (size_t d = 0; d < corpus().size(); ++d) {
    const auto ids = exp["encode"][d].get<std::vector<int32_t>>();
    EXPECT_EQ(stream_all(tok, ids, false), exp["decode"][d].get<std::string>())
        << family << " document " << d;
  }
}

TEST_P(HfParity, RandomIdsDecodeAndStreamLikeHf) {
  const std::string family = GetParam();
  const Tokenizer& tok = tokenizer_of(family);
  for (const auto& r : family_fixture(family).expected["random_decode"]) {
    const auto ids = r["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok.decode(ids), r["text"].get<std::string>()) << family << " ids " << r["ids"];
    EXPECT_EQ(tok.decode(ids, true), r["text_skip"].get<std::string>()) << family << " ids " << r["ids"];
    EXPECT_EQ(stream_all(tok, ids, false), r["text"].get<std::string>()) << family << " ids " << r["ids"];
    EXPECT_EQ(stream_all(tok, ids, true), r["text_skip"].get<std::string>()) << family << " ids " << r["ids"];
  }
}

TEST_P(HfParity, VocabSize) {
  const std::string family = GetParam();
  EXPECT_EQ(tokenizer_of(family).vocab_size(),
            family_fixture(family).expected["vocab_size"].get<size_t>());
}

INSTANTIATE_TEST_SUITE_P(Families, HfParity,
                         ::testing::Values("llama3", "qwen3", "gemma3", "gemma3_metaspace"));

}  // namespace
}  // namespace pagedkv
