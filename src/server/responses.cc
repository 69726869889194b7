#include "server/responses.h"

#include <random>

#include "tokenizer/utf8.h"

namespace pagedkv {

namespace {

// Characters (code points) of valid UTF-8 text: bytes that do not continue a sequence.
int64_t char_count(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string token_text(const Tokenizer& tok, const ResponseMeta& meta, int32_t id) {
  if (meta.tokens_as_ids) return "token_id:" + std::to_string(id);
  return utf8::lossy(tok.token_to_piece(id));
}

Json token_bytes(const Tokenizer& tok, int32_t id) {
  Json a = Json::array();
  for (unsigned char c : tok.token_to_piece(id)) a.push_back(int(c));
  return a;
}

Json choice_logprobs(const ResponseMeta& meta, const SampleOutput& s, const Tokenizer& tok) {
  if (!meta.logprobs) return nullptr;
  if (meta.endpoint == Endpoint::kChatCompletions) return chat_logprobs(s.logprobs, tok, meta);
  int64_t offset = 0;
  return completion_logprobs(s.logprobs, tok, meta, offset);
}

}  // namespace

std::string make_response_id(Endpoint endpoint) {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  static const char* hex = "0123456789abcdef";
  std::string id = endpoint == Endpoint::kChatCompletions ? "chatcmpl-" : "cmpl-";
  for (int i = 0; i < 24; ++i) id += hex[gen() & 15];
  return id;
}

ResponseMeta response_meta(const ParsedRequest& r, const std::string& model, int64_t created) {
  ResponseMeta m;
  m.endpoint = r.endpoint;
  m.id = make_response_id(r.endpoint);
  m.created = created;
  m.model = model;
  m.logprobs = r.logprobs;
  m.top_logprobs = r.top_logprobs;
  m.tokens_as_ids = r.tokens_as_ids;
  return m;
}

Usage usage_of(const std::vector<RequestOutput>& outputs) {
  Usage u;
  for (const RequestOutput& o : outputs) {
    u.prompt_tokens += int64_t(o.prompt.size());
    u.cached_tokens += o.prefix_hit_tokens;
    for (const SampleOutput& s : o.samples) u.completion_tokens += int64_t(s.tokens.size());
  }
  return u;
}

Json usage_json(const Usage& u) {
  Json j;
  j["prompt_tokens"] = u.prompt_tokens;
  j["completion_tokens"] = u.completion_tokens;
  j["total_tokens"] = u.prompt_tokens + u.completion_tokens;
  j["prompt_tokens_details"] = {{"cached_tokens", u.cached_tokens}};
  return j;
}

Json completion_logprobs(const std::vector<TokenLogprobs>& lps, const Tokenizer& tok,
                         const ResponseMeta& meta, int64_t& offset) {
  const int32_t top_n = meta.top_logprobs;
  Json tokens = Json::array(), logprobs = Json::array(), top = Json::array(),
       offsets = Json::array();
  for (const TokenLogprobs& t : lps) {
    const std::string text = token_text(tok, meta, t.token);
    tokens.push_back(text);
    logprobs.push_back(t.logprob);
    // OpenAI: the top `logprobs` alternatives, and always the chosen token.
    Json alts = Json::object();
    for (size_t k = 0; k < t.top.size() && int32_t(k) < top_n; ++k)
      alts[token_text(tok, meta, t.top[k].first)] = t.top[k].second;
    if (!alts.contains(text)) alts[text] = t.logprob;
    top.push_back(std::move(alts));
    offsets.push_back(offset);
    offset += char_count(text);
  }
  Json j;
  j["tokens"] = std::move(tokens);
  j["token_logprobs"] = std::move(logprobs);
  j["top_logprobs"] = std::move(top);
  j["text_offset"] = std::move(offsets);
  return j;
}

Json chat_logprobs(const std::vector<TokenLogprobs>& lps, const Tokenizer& tok,
                   const ResponseMeta& meta) {
  const int32_t top_n = meta.top_logprobs;
  Json content = Json::array();
  for (const TokenLogprobs& t : lps) {
    Json alts = Json::array();
    for (size_t k = 0; k < t.top.size() && int32_t(k) < top_n; ++k)
      alts.push_back({{"token", token_text(tok, meta, t.top[k].first)},
                      {"logprob", t.top[k].second},
                      {"bytes", token_bytes(tok, t.top[k].first)}});
    content.push_back({{"token", token_text(tok, meta, t.token)},
                       {"logprob", t.logprob},
                       {"bytes", token_bytes(tok, t.token)},
                       {"top_logprobs", std::move(alts)}});
  }
  return {{"content", std::move(content)}};
}

Json full_response(const ResponseMeta& meta, const std::vector<RequestOutput>& outputs,
                   const Tokenizer& tok) {
  const bool chat = meta.endpoint == Endpoint::kChatCompletions;
  Json choices = Json::array();
  int64_t index = 0;
  for (const RequestOutput& o : outputs)
    for (const SampleOutput& s : o.samples) {
      Json c;
      c["index"] = index++;
      if (chat) {
        c["message"] = {{"role", "assistant"}, {"content", s.text}};
      } else {
        c["text"] = s.text;
      }
      c["logprobs"] = choice_logprobs(meta, s, tok);
      c["finish_reason"] = finish_reason_name(s.finish);
      choices.push_back(std::move(c));
    }
  Json j;
  j["id"] = meta.id;
  j["object"] = chat ? "chat.completion" : "text_completion";
  j["created"] = meta.created;
  j["model"] = meta.model;
  j["choices"] = std::move(choices);
  j["usage"] = usage_json(usage_of(outputs));
  return j;
}

std::string dump_json(const Json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace pagedkv
