#pragma once
// OpenAI request bodies in, engine requests out: POST /v1/completions and
// POST /v1/chat/completions parsed and validated on the HTTP handler's thread (tokenizing and
// rendering chat templates there, off the engine thread). Every problem is an ApiError — 400
// naming the field, 404 for another model's name — thrown before anything reaches the engine.
//
// Completions: `prompt` is a string, an array of token ids, or a batch (array of strings or of
// token-id arrays: one engine request per prompt, choices indexed prompt * n + sample, as
// OpenAI does). Text prompts get the tokenizer's special tokens (BOS), as vLLM adds them.
// `max_tokens` defaults to 16 (OpenAI's), less when the context has less room.
// Chat: `messages` (role + content: a string, null, or a list of {"type": "text"} parts)
// through the checkpoint's chat template (add_generation_prompt, chat_template_kwargs and tools
// passed to it); `max_completion_tokens` or `max_tokens`, default the room the context leaves.

#include <cstdint>
#include <vector>

#include "engine/sampling_params.h"
#include "server/json_fields.h"
#include "server/served_model.h"

namespace pagedkv {

enum class Endpoint { kCompletions, kChatCompletions };

struct ParsedRequest {
  Endpoint endpoint = Endpoint::kCompletions;
  std::vector<std::vector<int32_t>> prompts;  // [prompts][tokens], each non-empty
  std::vector<SamplingParams> params;         // [prompts]; max_tokens may differ per prompt
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage: a last chunk with usage
  bool logprobs = false;       // the choices carry logprobs
  int32_t top_logprobs = 0;    // alternatives per token in them
  bool tokens_as_ids = false;  // return_tokens_as_token_ids (vLLM): "token_id:N" token strings
  int32_t n() const { return params.empty() ? 1 : params[0].n; }
};

ParsedRequest parse_completion_request(const Json& body, const ServedModel& model);
ParsedRequest parse_chat_request(const Json& body, const ServedModel& model);

// `prompt` of a completions request as token-id prompts (tested alone).
std::vector<std::vector<int32_t>> parse_prompt(const Json& prompt, const ServedModel& model);

}  // namespace pagedkv
