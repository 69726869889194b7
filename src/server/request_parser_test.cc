// Request parsing and validation: defaults, prompts in every form, chat rendering, the context
// limit, and every field's wrong type and out-of-range value as a 400 naming the field.
// The tiny qwen3 tokenizer (testdata/tokenizers/qwen3-tiny: 288 tokens, EOS ids 33 and 2, Qwen 3's
// chat template) with a 512-token context.

#include "server/request_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "server/api_error.h"

namespace pagedkv {
namespace {

class RequestParserTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tok_ = new ModelTokenizer(ModelTokenizer::load("testdata/tokenizers/qwen3-tiny"));
  }
  static void TearDownTestSuite() { delete tok_; }

  ServedModel model() const {
    ServedModel m;
    m.name = "tiny";
    m.text = tok_;
    m.vocab_size = 288;
    m.max_model_len = 512;
    m.max_prompts = 8;
    return m;
  }
  ParsedRequest completion(const Json& body) const {
    return parse_completion_request(body, model());
  }
  ParsedRequest chat(const Json& body) const { return parse_chat_request(body, model()); }

  static ModelTokenizer* tok_;
};
ModelTokenizer* RequestParserTest::tok_ = nullptr;

// The ApiError a parse throws (status 0 when it does not throw).
template <typename F>
ApiError error_of(F&& f) {
  try {
    f();
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(0, "", "", "no error");
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

const Json kUser = Json::array({{{"role", "user"}, {"content", "Hello world"}}});

TEST_F(RequestParserTest, CompletionDefaults) {
  const ParsedRequest r = completion({{"prompt", "Hello world"}});
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_EQ(r.prompts[0].size(), 9u);  // as `pagedkv generate --prompt` encodes it
  const SamplingParams& p = r.params.at(0);
  EXPECT_EQ(p.max_tokens, 16) << "OpenAI's default for completions";
  EXPECT_EQ(p.n, 1);
  EXPECT_FLOAT_EQ(p.temperature, 1.0f) << "OpenAI's default (the checkpoint sets none)";
  EXPECT_FLOAT_EQ(p.top_p, 1.0f);
  EXPECT_EQ(p.stop_token_ids, (std::vector<int32_t>{33, 2})) << "the checkpoint's EOS ids";
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.logprobs);
  EXPECT_EQ(r.endpoint, Endpoint::kCompletions);
}

TEST_F(RequestParserTest, CompletionFieldsAreRead) {
  const ParsedRequest r = completion({{"model", "tiny"},
                                      {"prompt", Json::array({1, 2, 3})},
                                      {"max_tokens", 7},
                                      {"temperature", 0.5},
                                      {"top_p", 0.9},
                                      {"top_k", 5},
                                      {"min_p", 0.1},
                                      {"n", 3},
                                      {"seed", -1},
                                      {"stop", "ab"},
                                      {"stream", true},
                                      {"stream_options", {{"include_usage", true}}},
                                      {"logprobs", 0},
                                      {"ignore_eos", true},
                                      {"stop_token_ids", {7}},
                                      {"best_of", 3}});
  const SamplingParams& p = r.params.at(0);
  EXPECT_EQ(r.prompts.at(0), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(p.max_tokens, 7);
  EXPECT_FLOAT_EQ(p.temperature, 0.5f);
  EXPECT_FLOAT_EQ(p.top_p, 0.9f);
  EXPECT_EQ(p.top_k, 5);
  EXPECT_FLOAT_EQ(p.min_p, 0.1f);
  EXPECT_EQ(p.n, 3);
  EXPECT_EQ(p.seed, UINT64_MAX) << "any 64-bit seed; -1 wraps";
  EXPECT_EQ(p.stop, (std::vector<std::string>{"ab"}));
  EXPECT_EQ(p.stop_token_ids, (std::vector<int32_t>{7})) << "ignore_eos: no EOS ids";
  EXPECT_TRUE(r.stream && r.include_usage);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 0);
  EXPECT_EQ(p.logprobs, 1) << "the engine computes the chosen token's logprob";
}

TEST_F(RequestParserTest, NullMeansAbsent) {
  const ParsedRequest r = completion({{"prompt", "Hi"},
                                      {"max_tokens", nullptr},
                                      {"temperature", nullptr},
                                      {"stop", nullptr},
                                      {"logprobs", nullptr},
                                      {"n", nullptr}});
  EXPECT_EQ(r.params[0].max_tokens, 16);
  EXPECT_FLOAT_EQ(r.params[0].temperature, 1.0f);
  EXPECT_FALSE(r.logprobs);
}

TEST_F(RequestParserTest, MissingSeedIsRandom) {
  const uint64_t a = completion({{"prompt", "Hi"}}).params[0].seed;
  const uint64_t b = completion({{"prompt", "Hi"}}).params[0].seed;
  EXPECT_NE(a, b);
}

TEST_F(RequestParserTest, PromptForms) {
  EXPECT_EQ(completion({{"prompt", Json::array({"Hello", "world"})}}).prompts.size(), 2u);
  const ParsedRequest ids =
      completion({{"prompt", Json::array({Json::array({1, 2}), Json::array({3})})}});
  ASSERT_EQ(ids.prompts.size(), 2u);
  EXPECT_EQ(ids.prompts[1], std::vector<int32_t>{3});
  EXPECT_EQ(ids.params.size(), 2u) << "one SamplingParams per prompt";
  const ApiError too_many = error_of([&] {
    completion({{"prompt", Json::array({"a", "b", "c", "d", "e", "f", "g", "h", "i"})}});
  });
  EXPECT_EQ(too_many.status, 400);
  EXPECT_EQ(too_many.param, "prompt");
}

TEST_F(RequestParserTest, ContextLimit) {
  const std::vector<int32_t> p500(500, 5), p600(600, 5);
  ApiError e = error_of([&] { completion({{"prompt", p600}}); });
  EXPECT_EQ(e.param, "prompt");
  EXPECT_NE(std::string(e.what()).find("512"), std::string::npos) << e.what();
  e = error_of([&] { completion({{"prompt", p500}, {"max_tokens", 20}}); });
  EXPECT_EQ(e.param, "max_tokens");
  EXPECT_EQ(completion({{"prompt", p500}}).params[0].max_tokens, 12)
      << "the default is clipped to the room";
  e = error_of([&] { completion({{"prompt", Json::array({"Hi", p600})}}); });
  EXPECT_EQ(e.param, "prompt[1]") << "a batch names the prompt";
  const std::vector<int32_t> p511(511, 5);
  EXPECT_EQ(completion({{"prompt", p511}, {"max_tokens", 1}}).params[0].max_tokens, 1);
}

TEST_F(RequestParserTest, Chat) {
  const ParsedRequest r = chat({{"messages", kUser}});
  ASSERT_EQ(r.prompts.size(), 1u);
  const std::string rendered = tok_->chat_template->render(kUser, {});
  EXPECT_EQ(r.prompts[0], tok_->tokenizer.encode(rendered, {.add_special_tokens = false}));
  EXPECT_EQ(r.params[0].max_tokens, 512 - int32_t(r.prompts[0].size())) << "default: the room left";
  EXPECT_EQ(r.endpoint, Endpoint::kChatCompletions);

  const Json parts =
      Json::array({{{"role", "user"},
                    {"content", Json::array({{{"type", "text"}, {"text", "Hello world"}}})}}});
  EXPECT_EQ(chat({{"messages", parts}}).prompts[0], r.prompts[0]) << "text parts == a string";
  EXPECT_EQ(chat({{"messages", kUser}, {"max_tokens", 9}, {"max_completion_tokens", 4}})
                .params[0]
                .max_tokens,
            4);
  const ParsedRequest lp = chat({{"messages", kUser}, {"logprobs", true}, {"top_logprobs", 3}});
  EXPECT_TRUE(lp.logprobs);
  EXPECT_EQ(lp.top_logprobs, 3);
  EXPECT_EQ(lp.params[0].logprobs, 3);
  // Template variables reach the template (Qwen 3's enable_thinking adds an empty think block).
  const ParsedRequest nothink =
      chat({{"messages", kUser}, {"chat_template_kwargs", {{"enable_thinking", false}}}});
  EXPECT_GT(nothink.prompts[0].size(), r.prompts[0].size());
}

TEST_F(RequestParserTest, OtherModelIs404) {
  const ApiError e = error_of([&] { completion({{"prompt", "Hi"}, {"model", "gpt-4"}}); });
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.param, "model");
}

struct BadField {
  std::string field;
  Json value;
  std::string param;  // the field the error must name
};

// Every field, a wrong type and an out-of-range value: HTTP 400 naming it.
TEST_F(RequestParserTest, CompletionFieldErrorsNameTheField) {
  const std::vector<BadField> cases = {
      {"prompt", 5, "prompt"},
      {"prompt", Json::array(), "prompt"},
      {"prompt", "", "prompt"},
      {"prompt", Json::array({1, 300}), "prompt[1]"},
      {"prompt", Json::array({1, -1}), "prompt[1]"},
      {"prompt", Json::array({1, "a"}), "prompt[1]"},
      {"prompt", Json::array({"a", 1}), "prompt[1]"},
      {"prompt", Json::array({Json::array()}), "prompt[0]"},
      {"model", 5, "model"},
      {"max_tokens", "5", "max_tokens"},
      {"max_tokens", 0, "max_tokens"},
      {"max_tokens", 1.5, "max_tokens"},
      {"max_tokens", -3, "max_tokens"},
      {"temperature", "hot", "temperature"},
      {"temperature", true, "temperature"},
      {"temperature", -0.1, "temperature"},
      {"temperature", 2.01, "temperature"},
      {"top_p", "x", "top_p"},
      {"top_p", 0, "top_p"},
      {"top_p", 1.01, "top_p"},
      {"top_k", 2.5, "top_k"},
      {"top_k", "1", "top_k"},
      {"top_k", -2, "top_k"},
      {"top_k", 289, "top_k"},
      {"min_p", "x", "min_p"},
      {"min_p", -0.5, "min_p"},
      {"min_p", 1.5, "min_p"},
      {"n", "2", "n"},
      {"n", 0, "n"},
      {"n", 129, "n"},
      {"seed", "1", "seed"},
      {"seed", 0.5, "seed"},
      {"stop", 3, "stop"},
      {"stop", Json::array({"a", 3}), "stop[1]"},
      {"stop", "", "stop"},
      {"stop", Json::array({"a", ""}), "stop[1]"},
      {"stop", Json(std::vector<std::string>(17, "a")), "stop"},
      {"stream", "true", "stream"},
      {"stream", 1, "stream"},
      {"stream_options", 1, "stream_options"},
      {"stream_options", {{"include_usage", "yes"}}, "stream_options.include_usage"},
      {"logprobs", true, "logprobs"},
      {"logprobs", -1, "logprobs"},
      {"logprobs", 21, "logprobs"},
      {"ignore_eos", "no", "ignore_eos"},
      {"skip_special_tokens", 0, "skip_special_tokens"},
      {"stop_token_ids", 3, "stop_token_ids"},
      {"stop_token_ids", Json::array({1, 999}), "stop_token_ids[1]"},
      {"echo", "x", "echo"},
      {"echo", true, "echo"},
      {"suffix", "tail", "suffix"},
      {"best_of", 2, "best_of"},
      {"best_of", "1", "best_of"},
      {"presence_penalty", "x", "presence_penalty"},
      {"presence_penalty", 0.5, "presence_penalty"},
      {"frequency_penalty", 1, "frequency_penalty"},
      {"repetition_penalty", 1.2, "repetition_penalty"},
      {"logit_bias", 5, "logit_bias"},
      {"logit_bias", {{"5", 100}}, "logit_bias"},
      {"return_tokens_as_token_ids", "y", "return_tokens_as_token_ids"},
  };
  for (const BadField& c : cases) {
    Json body = {{"prompt", "Hello"}};
    body[c.field] = c.value;
    const ApiError e = error_of([&] { completion(body); });
    EXPECT_EQ(e.status, 400) << body.dump();
    EXPECT_EQ(e.param, c.param) << body.dump() << " -> " << e.what();
    EXPECT_EQ(std::string(e.what()).rfind(c.param + ": ", 0), 0u)
        << "the message starts with the field: " << e.what();
  }
}

TEST_F(RequestParserTest, ChatFieldErrorsNameTheField) {
  const std::vector<BadField> cases = {
      {"messages", "hi", "messages"},
      {"messages", Json::array(), "messages"},
      {"messages", Json::array({5}), "messages[0]"},
      {"messages", Json::array({{{"content", "x"}}}), "messages[0].role"},
      {"messages", Json::array({{{"role", 1}, {"content", "x"}}}), "messages[0].role"},
      {"messages", Json::array({{{"role", "user"}, {"content", 5}}}), "messages[0].content"},
      {"messages", Json::array({{{"role", "user"}, {"content", Json::array({5})}}}),
       "messages[0].content[0]"},
      {"messages",
       Json::array({{{"role", "user"}, {"content", Json::array({{{"type", "image_url"}}})}}}),
       "messages[0].content[0].type"},
      {"messages",
       Json::array({{{"role", "user"}, {"content", Json::array({{{"type", "text"}}})}}}),
       "messages[0].content[0].text"},
      {"messages", Json::array({{{"role", "user"}, {"content", repeat("Hello ", 400)}}}),
       "messages"},
      {"max_tokens", "1", "max_tokens"},
      {"max_tokens", 0, "max_tokens"},
      {"max_tokens", 600, "max_tokens"},
      {"max_completion_tokens", 0.5, "max_completion_tokens"},
      {"max_completion_tokens", 1000, "max_completion_tokens"},
      {"logprobs", 3, "logprobs"},
      {"top_logprobs", 2, "top_logprobs"},
      {"temperature", 3, "temperature"},
      {"n", -1, "n"},
      {"add_generation_prompt", "yes", "add_generation_prompt"},
      {"chat_template_kwargs", Json::array(), "chat_template_kwargs"},
      {"tools", "x", "tools"},
  };
  for (const BadField& c : cases) {
    Json body = {{"messages", kUser}};
    body[c.field] = c.value;
    const ApiError e = error_of([&] { chat(body); });
    EXPECT_EQ(e.status, 400) << body.dump().substr(0, 200);
    EXPECT_EQ(e.param, c.param) << body.dump().substr(0, 200) << " -> " << e.what();
  }
  // top_logprobs range, with logprobs on.
  const ApiError e = error_of([&] {
    chat({{"messages", kUser}, {"logprobs", true}, {"top_logprobs", 21}});
  });
  EXPECT_EQ(e.param, "top_logprobs");
}

TEST_F(RequestParserTest, BodyMustBeAnObject) {
  const ApiError e = error_of([&] { completion(Json::array({1})); });
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(std::string(e.what()).find("object"), std::string::npos);
}

}  // namespace
}  // namespace pagedkv
