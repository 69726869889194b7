#pragma once
// OpenAI response bodies from engine outputs: completions ("text_completion") and chat
// ("chat.completion"), usage, and log-probabilities in both of OpenAI's shapes:
//   completions: {"tokens": [...], "token_logprobs": [...], "top_logprobs": [{tok: lp}, ...],
//                 "text_offset": [...]}
//   chat:        {"content": [{"token", "logprob", "bytes", "top_logprobs": [{...}]}]}
// Choice i of prompt p has index p * n + i. Token strings are the token's bytes as UTF-8 (a
// piece that is part of a character shows U+FFFD, so two such tokens can share a string and one
// key of a completions top_logprobs dict; chat's `bytes` has the exact bytes, and
// return_tokens_as_token_ids names tokens "token_id:N" instead).

#include <cstdint>
#include <string>
#include <vector>

#include "engine/request.h"
#include "server/json_fields.h"
#include "server/request_parser.h"
#include "tokenizer/tokenizer.h"

namespace pagedkv {

struct ResponseMeta {
  Endpoint endpoint = Endpoint::kCompletions;
  std::string id;  // cmpl-... / chatcmpl-...
  int64_t created = 0;
  std::string model;
  bool logprobs = false;
  int32_t top_logprobs = 0;  // alternatives per token shown (the engine may have computed more)
  bool tokens_as_ids =
      false;  // logprobs name tokens "token_id:N" (vLLM's return_tokens_as_token_ids)
};

// "cmpl-" / "chatcmpl-" + 24 random hex digits.
std::string make_response_id(Endpoint endpoint);
ResponseMeta response_meta(const ParsedRequest& r, const std::string& model, int64_t created);

struct Usage {
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
};
Usage usage_of(const std::vector<RequestOutput>& outputs);
Json usage_json(const Usage& u);

// Completions logprobs of `lps` (meta.top_logprobs alternatives); text_offset continues from
// `offset` (characters of the choice's token strings before these tokens), which is advanced.
Json completion_logprobs(const std::vector<TokenLogprobs>& lps, const Tokenizer& tok,
                         const ResponseMeta& meta, int64_t& offset);
Json chat_logprobs(const std::vector<TokenLogprobs>& lps, const Tokenizer& tok,
                   const ResponseMeta& meta);

// The whole non-streaming response; outputs[p] is prompt p's.
Json full_response(const ResponseMeta& meta, const std::vector<RequestOutput>& outputs,
                   const Tokenizer& tok);

// Serialized for the wire (invalid UTF-8, never expected, becomes U+FFFD rather than throwing).
std::string dump_json(const Json& j);

}  // namespace pagedkv
