// Response bodies, log-probabilities in both shapes, SSE framing and stream chunks, error bodies:
// the exact shapes OpenAI clients parse.

#include "server/responses.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/stream_formatter.h"

namespace pagedkv {
namespace {

class ResponsesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tok_ = new ModelTokenizer(ModelTokenizer::load("testdata/tokenizers/qwen3-tiny"));
  }
  static void TearDownTestSuite() { delete tok_; }
  const Tokenizer& tok() const { return tok_->tokenizer; }

  static ResponseMeta meta(Endpoint e, bool logprobs = false, int32_t top = 0) {
    ResponseMeta m;
    m.endpoint = e;
    m.id = e == Endpoint::kChatCompletions ? "chatcmpl-x" : "cmpl-x";
    m.created = 1700000000;
    m.model = "tiny";
    m.logprobs = logprobs;
    m.top_logprobs = top;
    return m;
  }
  // ids of ASCII text, so token strings are readable
  std::vector<int32_t> ids(const std::string& text) const {
    return tok().encode(text, {.add_special_tokens = false});
  }

  static ModelTokenizer* tok_;
};
ModelTokenizer* ResponsesTest::tok_ = nullptr;

RequestOutput output(std::vector<int32_t> prompt, int64_t hit, std::vector<SampleOutput> samples) {
  RequestOutput o;
  o.prompt = std::move(prompt);
  o.prefix_hit_tokens = hit;
  o.samples = std::move(samples);
  return o;
}

SampleOutput sample(std::string text, std::vector<int32_t> tokens, FinishReason f) {
  SampleOutput s;
  s.text = std::move(text);
  s.tokens = std::move(tokens);
  s.finish = f;
  return s;
}

TEST_F(ResponsesTest, ResponseIds) {
  const std::string a = make_response_id(Endpoint::kCompletions),
                    b = make_response_id(Endpoint::kCompletions);
  EXPECT_EQ(a.rfind("cmpl-", 0), 0u);
  EXPECT_EQ(a.size(), 5u + 24u);
  EXPECT_NE(a, b);
  EXPECT_EQ(make_response_id(Endpoint::kChatCompletions).rfind("chatcmpl-", 0), 0u);
}

TEST_F(ResponsesTest, CompletionResponseShape) {
  // 2 prompts x n = 2: choices indexed prompt * n + sample.
  std::vector<RequestOutput> outs = {
      output({1, 2, 3}, 0,
             {sample("ab", {5, 6}, FinishReason::kLength),
              sample("c", {7}, FinishReason::kStopToken)}),
      output({1, 2}, 2,
             {sample("d", {8}, FinishReason::kStopString), sample("", {}, FinishReason::kAbort)})};
  const Json j = full_response(meta(Endpoint::kCompletions), outs, tok());
  EXPECT_EQ(j["id"], "cmpl-x");
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["created"], 1700000000);
  EXPECT_EQ(j["model"], "tiny");
  ASSERT_EQ(j["choices"].size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(j["choices"][i]["index"], i);
  EXPECT_EQ(j["choices"][0]["text"], "ab");
  EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(j["choices"][1]["finish_reason"], "stop");
  EXPECT_EQ(j["choices"][2]["text"], "d");
  EXPECT_EQ(j["choices"][2]["finish_reason"], "stop");
  EXPECT_TRUE(j["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(j["usage"]["prompt_tokens"], 5);
  EXPECT_EQ(j["usage"]["completion_tokens"], 4);
  EXPECT_EQ(j["usage"]["total_tokens"], 9);
  EXPECT_EQ(j["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
}

TEST_F(ResponsesTest, ChatResponseShape) {
  const Json j =
      full_response(meta(Endpoint::kChatCompletions),
                    {output({1}, 0, {sample("Hi!", {5}, FinishReason::kStopToken)})}, tok());
  EXPECT_EQ(j["object"], "chat.completion");
  EXPECT_EQ(j["choices"][0]["message"], Json({{"role", "assistant"}, {"content", "Hi!"}}));
  EXPECT_EQ(j["choices"][0]["finish_reason"], "stop");
  EXPECT_FALSE(j["choices"][0].contains("text"));
}

std::vector<TokenLogprobs> logprobs_of(const std::vector<int32_t>& ids) {
  std::vector<TokenLogprobs> out;
  for (size_t i = 0; i < ids.size(); ++i) {
    TokenLogprobs t;
    t.token = ids[i];
    t.logprob = -0.5f * float(i + 1);
    t.top = {{ids[i], t.logprob},
             {ids[(i + 1) % ids.size()], -3.0f},
             {ids[(i + 2) % ids.size()], -4.0f}};
    out.push_back(t);
  }
  return out;
}

TEST_F(ResponsesTest, CompletionLogprobs) {
  const std::vector<int32_t> t = ids("Hello world");
  ASSERT_GE(t.size(), 3u);
  int64_t offset = 0;
  const Json j =
      completion_logprobs(logprobs_of(t), tok(), meta(Endpoint::kCompletions, true, 2), offset);
  ASSERT_EQ(j["tokens"].size(), t.size());
  std::string joined;
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(j["tokens"][i], tok().token_to_piece(t[i]));
    EXPECT_EQ(j["token_logprobs"][i], -0.5f * float(i + 1));
    EXPECT_EQ(j["text_offset"][i], int64_t(joined.size())) << "characters before this token";
    joined += tok().token_to_piece(t[i]);
    EXPECT_LE(j["top_logprobs"][i].size(), 2u) << "top 2 (the chosen is among them)";
    EXPECT_EQ(j["top_logprobs"][i][j["tokens"][i].get<std::string>()], j["token_logprobs"][i]);
  }
  EXPECT_EQ(joined, "Hello world");
  EXPECT_EQ(offset, int64_t(joined.size())) << "advanced for the next chunk";
  // top 0: the chosen token alone.
  offset = 0;
  const Json z =
      completion_logprobs(logprobs_of(t), tok(), meta(Endpoint::kCompletions, true, 0), offset);
  EXPECT_EQ(z["top_logprobs"][1].size(), 1u);
}

TEST_F(ResponsesTest, TokensAsIds) {
  ResponseMeta m = meta(Endpoint::kCompletions, true, 2);
  m.tokens_as_ids = true;
  int64_t offset = 0;
  const Json j = completion_logprobs(logprobs_of({5, 6, 7}), tok(), m, offset);
  EXPECT_EQ(j["tokens"], Json({"token_id:5", "token_id:6", "token_id:7"}));
  EXPECT_EQ(j["top_logprobs"][0], Json({{"token_id:5", -0.5f}, {"token_id:6", -3.0f}}));
}

TEST_F(ResponsesTest, ChatLogprobs) {
  const std::vector<int32_t> t = ids("Hi there");
  const Json j = chat_logprobs(logprobs_of(t), tok(), meta(Endpoint::kChatCompletions, true, 2));
  ASSERT_EQ(j["content"].size(), t.size());
  std::string bytes;
  for (size_t i = 0; i < t.size(); ++i) {
    const Json& e = j["content"][i];
    EXPECT_EQ(e["token"], tok().token_to_piece(t[i]));
    EXPECT_EQ(e["logprob"], -0.5f * float(i + 1));
    for (const Json& b : e["bytes"]) bytes += char(b.get<int>());
    ASSERT_EQ(e["top_logprobs"].size(), 2u);
    EXPECT_EQ(e["top_logprobs"][0]["token"], e["token"]);
    EXPECT_TRUE(e["top_logprobs"][1].contains("bytes"));
  }
  EXPECT_EQ(bytes, "Hi there");
}

TEST_F(ResponsesTest, PartialUtf8TokenStringsAreValidJson) {
  // A byte-level piece that is half of a character: U+FFFD in the string, exact bytes in `bytes`.
  const std::vector<int32_t> t = ids("é");
  ASSERT_EQ(t.size(), 2u) << "the tiny vocabulary spells é as two byte tokens";
  const Json j = chat_logprobs(logprobs_of(t), tok(), meta(Endpoint::kChatCompletions, true, 1));
  EXPECT_EQ(j["content"][0]["token"], "\xEF\xBF\xBD");
  EXPECT_EQ(j["content"][0]["bytes"], Json({0xC3}));
  EXPECT_NO_THROW(dump_json(j));
}

OutputDelta delta(std::string text, std::vector<int32_t> tokens,
                  FinishReason f = FinishReason::kNone) {
  OutputDelta d;
  d.text = std::move(text);
  d.tokens = std::move(tokens);
  d.finish = f;
  return d;
}

// Splits an SSE stream into its data payloads; every event must be "data: ...\n\n".
std::vector<std::string> events(const std::string& sse) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < sse.size()) {
    EXPECT_EQ(sse.compare(pos, 6, "data: "), 0) << sse.substr(pos);
    const size_t end = sse.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos);
    if (end == std::string::npos) break;
    out.push_back(sse.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  return out;
}

TEST_F(ResponsesTest, SseFraming) {
  EXPECT_EQ(sse_data(Json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(std::string(kSseDone), "data: [DONE]\n\n");
}

TEST_F(ResponsesTest, CompletionStream) {
  StreamFormatter f(meta(Endpoint::kCompletions), tok(), 1, false);
  EXPECT_EQ(f.start(), "") << "completions have no role chunk";
  EXPECT_EQ(f.delta(0, delta("", {5})), "") << "held-back text, no logprobs: nothing to send";
  std::vector<std::string> ev = events(f.delta(0, delta("Hel", {6})));
  ASSERT_EQ(ev.size(), 1u);
  const Json c = Json::parse(ev[0]);
  EXPECT_EQ(c["object"], "text_completion");
  EXPECT_EQ(c["id"], "cmpl-x");
  EXPECT_EQ(c["choices"][0]["text"], "Hel");
  EXPECT_TRUE(c["choices"][0]["finish_reason"].is_null());
  EXPECT_FALSE(c.contains("usage"));
  ev = events(f.delta(0, delta("lo", {7}, FinishReason::kLength)));
  ASSERT_EQ(ev.size(), 2u) << "the text, then the finish";
  EXPECT_EQ(Json::parse(ev[1])["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(Json::parse(ev[1])["choices"][0]["text"], "");
  EXPECT_EQ(f.done(Usage{3, 3, 0}), "data: [DONE]\n\n");
}

TEST_F(ResponsesTest, ChatStreamWithUsage) {
  StreamFormatter f(meta(Endpoint::kChatCompletions), tok(), 2, true);
  std::vector<std::string> ev = events(f.start());
  ASSERT_EQ(ev.size(), 2u) << "a role chunk per choice";
  for (int i = 0; i < 2; ++i) {
    const Json c = Json::parse(ev[size_t(i)]);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    EXPECT_EQ(c["choices"][0]["index"], i);
    EXPECT_EQ(c["choices"][0]["delta"], Json({{"role", "assistant"}, {"content", ""}}));
    EXPECT_TRUE(c.contains("usage") && c["usage"].is_null())
        << "include_usage: usage null in chunks";
  }
  ev = events(f.delta(1, delta("Hi", {5}, FinishReason::kStopToken)));
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(Json::parse(ev[0])["choices"][0]["delta"], Json({{"content", "Hi"}}));
  EXPECT_EQ(Json::parse(ev[0])["choices"][0]["index"], 1);
  EXPECT_EQ(Json::parse(ev[1])["choices"][0]["delta"], Json::object());
  EXPECT_EQ(Json::parse(ev[1])["choices"][0]["finish_reason"], "stop");
  const std::string end = f.done(Usage{4, 2, 1});
  ASSERT_GE(end.size(), std::string(kSseDone).size());
  EXPECT_EQ(end.substr(end.size() - std::string(kSseDone).size()), kSseDone);
  ev = events(end);
  ASSERT_EQ(ev.size(), 2u);
  const Json u = Json::parse(ev[0]);
  EXPECT_EQ(u["choices"], Json::array());
  EXPECT_EQ(u["usage"]["total_tokens"], 6);
  EXPECT_EQ(u["usage"]["prompt_tokens_details"]["cached_tokens"], 1);
  EXPECT_EQ(ev[1], "[DONE]");
}

TEST_F(ResponsesTest, StreamedLogprobsContinueTheTextOffset) {
  StreamFormatter f(meta(Endpoint::kCompletions, true, 1), tok(), 1, false);
  const std::vector<int32_t> t = ids("Hello world");
  OutputDelta a = delta("", {t[0]});
  a.logprobs = logprobs_of({t[0]});
  OutputDelta b = delta(tok().token_to_piece(t[0]) + tok().token_to_piece(t[1]), {t[1]});
  b.logprobs = logprobs_of({t[1]});
  std::vector<std::string> ev = events(f.delta(0, a));
  ASSERT_EQ(ev.size(), 1u) << "logprobs asked: a chunk even while the text is held back";
  EXPECT_EQ(Json::parse(ev[0])["choices"][0]["logprobs"]["text_offset"], Json({0}));
  ev = events(f.delta(0, b));
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(Json::parse(ev[0])["choices"][0]["logprobs"]["text_offset"],
            Json({int64_t(tok().token_to_piece(t[0]).size())}));
}

TEST_F(ResponsesTest, ErrorBody) {
  const Json j = Json::parse(error_body(bad_request("temperature", "must be in [0, 2], got 3")));
  EXPECT_EQ(j["error"]["message"], "temperature: must be in [0, 2], got 3");
  EXPECT_EQ(j["error"]["type"], "invalid_request_error");
  EXPECT_EQ(j["error"]["param"], "temperature");
  EXPECT_EQ(j["error"]["code"], 400);
  EXPECT_TRUE(
      Json::parse(error_body(503, "server_overloaded", "", "busy"))["error"]["param"].is_null());
  EXPECT_EQ(client_message(Error(ErrorKind::kInvalidArgument, "request: too long")),
            "request: too long");
}

}  // namespace
}  // namespace pagedkv
