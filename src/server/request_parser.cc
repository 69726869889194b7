#include "server/request_parser.h"

#include <algorithm>

#include "engine/request.h"
#include "server/api_error.h"
#include "server/sampling_fields.h"

namespace pagedkv {

namespace {

std::string indexed(const std::string& name, size_t i) {
  return name + "[" + std::to_string(i) + "]";
}

// The fields both endpoints share: model, stream, stream_options, sampling and stop fields.
ParsedRequest parse_common(const JsonFields& f, const ServedModel& model, Endpoint endpoint) {
  if (const std::optional<std::string> name = f.string("model"); name && *name != model.name)
    throw ApiError(
        404, "not_found_error", "model",
        "The model '" + *name + "' does not exist; this server serves '" + model.name + "'");
  ParsedRequest r;
  r.endpoint = endpoint;
  r.stream = f.boolean("stream").value_or(false);
  if (const Json* so = f.get("stream_options")) {
    const JsonFields opts(*so, "stream_options");
    r.include_usage = opts.boolean("include_usage").value_or(false) && r.stream;
  }
  r.params.push_back(parse_sampling_fields(f, model));
  r.tokens_as_ids = f.boolean("return_tokens_as_token_ids").value_or(false);
  return r;
}

int64_t check_room(int64_t prompt_len, int64_t max_model_len, const std::string& prompt_field) {
  if (prompt_len >= max_model_len)
    throw bad_request(prompt_field,
                      "the prompt has " + std::to_string(prompt_len) +
                          " tokens; this model's maximum context length is " +
                          std::to_string(max_model_len) +
                          " tokens and the prompt must leave room for >= 1 new token");
  return max_model_len - prompt_len;
}

int32_t resolve_max_tokens(int64_t prompt_len, int64_t max_model_len,
                           const std::string& prompt_field, const std::optional<int64_t>& requested,
                           int64_t default_max, const std::string& max_field) {
  const int64_t room = check_room(prompt_len, max_model_len, prompt_field);
  if (!requested) return int32_t(std::min(default_max, room));
  if (*requested > room)
    throw bad_request(max_field, "the prompt (" + std::to_string(prompt_len) + " tokens) + " +
                                     max_field + " (" + std::to_string(*requested) +
                                     ") exceeds this model's maximum context length of " +
                                     std::to_string(max_model_len) + " tokens");
  return int32_t(*requested);
}

// The engine's own checks, as a last line: what they refuse the fields above let through.
void engine_validate(const ParsedRequest& r, const ServedModel& model) {
  for (size_t i = 0; i < r.prompts.size(); ++i) {
    try {
      validate_request(r.prompts[i], r.params[i], {model.vocab_size, model.max_model_len});
    } catch (const Error& e) {
      throw bad_request("", client_message(e));
    }
  }
}

std::vector<int32_t> token_ids(const Json& a, const std::string& field, const ServedModel& model) {
  std::vector<int32_t> ids;
  ids.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const Json& v = a[i];
    if (!v.is_number_integer())
      throw bad_request(indexed(field, i),
                        std::string("expected a token id (integer), got ") + json_type_name(v));
    const int64_t id = v.get<int64_t>();
    if (id < 0 || id >= model.vocab_size)
      throw bad_request(indexed(field, i), "token id " + std::to_string(id) +
                                               " is outside the vocabulary [0, " +
                                               std::to_string(model.vocab_size) + ")");
    ids.push_back(int32_t(id));
  }
  if (ids.empty()) throw bad_request(field, "the prompt is empty");
  return ids;
}

std::vector<int32_t> encode_text(const std::string& text, const std::string& field,
                                 const ServedModel& model) {
  std::vector<int32_t> ids;
  try {
    ids = model.text->tokenizer.encode(text, {.add_special_tokens = true});
  } catch (const Error& e) {
    throw bad_request(field, client_message(e));
  }
  if (ids.empty()) throw bad_request(field, "the prompt is empty");
  return ids;
}

// A message's content as the template sees it: a string (text parts joined with newlines, as
// vLLM does for text-only models) or null.
Json message_content(const Json& content, const std::string& field) {
  if (content.is_null() || content.is_string()) return content;
  if (!content.is_array())
    throw bad_request(field, std::string("expected a string or an array of content parts, got ") +
                                 json_type_name(content));
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const JsonFields part(content[i], indexed(field, i));
    const std::optional<std::string> type = part.string("type");
    if (!type) throw bad_request(part.path("type"), "required");
    if (*type != "text")
      throw bad_request(part.path("type"), "content part type '" + *type +
                                               "' is not supported (this server takes text only)");
    const std::optional<std::string> t = part.string("text");
    if (!t) throw bad_request(part.path("text"), "required");
    if (i) text += "\n";
    text += *t;
  }
  return text;
}

Json parse_messages(const JsonFields& f) {
  const Json* msgs = f.get("messages");
  if (!msgs) throw bad_request("messages", "required");
  if (!msgs->is_array())
    throw bad_request("messages",
                      std::string("expected an array of messages, got ") + json_type_name(*msgs));
  if (msgs->empty()) throw bad_request("messages", "at least one message is required");
  Json out = Json::array();
  for (size_t i = 0; i < msgs->size(); ++i) {
    const std::string name = indexed("messages", i);
    const JsonFields m((*msgs)[i], name);
    if (!m.string("role")) throw bad_request(m.path("role"), "required");
    Json msg = (*msgs)[i];
    const auto it = (*msgs)[i].find("content");
    msg["content"] =
        it == (*msgs)[i].end() ? Json(nullptr) : message_content(*it, m.path("content"));
    out.push_back(std::move(msg));
  }
  return out;
}

}  // namespace

std::vector<std::vector<int32_t>> parse_prompt(const Json& prompt, const ServedModel& model) {
  std::vector<std::vector<int32_t>> out;
  if (prompt.is_string()) {
    out.push_back(encode_text(prompt.get<std::string>(), "prompt", model));
    return out;
  }
  if (!prompt.is_array())
    throw bad_request("prompt", std::string("expected a string, an array of token ids, or an array "
                                            "of those, got ") +
                                    json_type_name(prompt));
  if (prompt.empty()) throw bad_request("prompt", "the prompt is empty");
  if (prompt[0].is_number()) {
    out.push_back(token_ids(prompt, "prompt", model));
    return out;
  }
  if (prompt.size() > size_t(model.max_prompts))
    throw bad_request("prompt", "a batch of " + std::to_string(prompt.size()) +
                                    " prompts exceeds this server's limit of " +
                                    std::to_string(model.max_prompts));
  for (size_t i = 0; i < prompt.size(); ++i) {
    const Json& p = prompt[i];
    if (p.is_string()) {
      out.push_back(encode_text(p.get<std::string>(), indexed("prompt", i), model));
    } else if (p.is_array()) {
      out.push_back(token_ids(p, indexed("prompt", i), model));
    } else {
      throw bad_request(indexed("prompt", i), std::string("expected a string or an array of token "
                                                          "ids, got ") +
                                                  json_type_name(p));
    }
  }
  return out;
}

ParsedRequest parse_completion_request(const Json& body, const ServedModel& model) {
  const JsonFields f(body);
  ParsedRequest r = parse_common(f, model, Endpoint::kCompletions);
  const Json* prompt = f.get("prompt");
  if (!prompt) throw bad_request("prompt", "required");
  r.prompts = parse_prompt(*prompt, model);
  if (f.boolean("echo").value_or(false)) throw bad_request("echo", "not supported by pagedkv");
  if (const auto suffix = f.string("suffix"); suffix && !suffix->empty())
    throw bad_request("suffix", "not supported by pagedkv");
  if (const auto best_of = f.integer("best_of", 1, kMaxN); best_of && *best_of != r.params[0].n)
    throw bad_request("best_of", "only best_of == n is supported by pagedkv");
  if (const auto lp = f.integer("logprobs", 0, kMaxLogprobs)) {
    r.logprobs = true;
    r.top_logprobs = int32_t(*lp);
    r.params[0].logprobs = std::max<int32_t>(1, r.top_logprobs);  // the chosen token's too
  }
  const std::optional<int64_t> max_tokens = f.integer("max_tokens", 1, INT32_MAX);
  r.params.resize(r.prompts.size(), r.params[0]);
  for (size_t i = 0; i < r.prompts.size(); ++i)
    r.params[i].max_tokens =
        resolve_max_tokens(int64_t(r.prompts[i].size()), model.max_model_len,
                           r.prompts.size() > 1 ? indexed("prompt", i) : std::string("prompt"),
                           max_tokens, 16, "max_tokens");
  engine_validate(r, model);
  return r;
}

ParsedRequest parse_chat_request(const Json& body, const ServedModel& model) {
  const JsonFields f(body);
  ParsedRequest r = parse_common(f, model, Endpoint::kChatCompletions);
  if (!model.text->chat_template)
    throw bad_request("messages",
                      "this model has no chat template (tokenizer_config.json "
                      "chat_template); use /v1/completions");
  const Json messages = parse_messages(f);
  ChatOptions options;
  options.add_generation_prompt = f.boolean("add_generation_prompt").value_or(true);
  if (const Json* kw = f.get("chat_template_kwargs")) {
    if (!kw->is_object())
      throw bad_request("chat_template_kwargs",
                        std::string("expected an object, got ") + json_type_name(*kw));
    for (const auto& [k, v] : kw->items()) options.extra[k] = v;
  }
  if (const Json* tools = f.get("tools")) {
    if (!tools->is_array())
      throw bad_request("tools", std::string("expected an array, got ") + json_type_name(*tools));
    if (!tools->empty()) options.extra["tools"] = *tools;
  }
  const bool logprobs = f.boolean("logprobs").value_or(false);
  const std::optional<int64_t> top = f.integer("top_logprobs", 0, kMaxLogprobs);
  if (top && !logprobs) throw bad_request("top_logprobs", "requires logprobs to be true");
  if (logprobs) {
    r.logprobs = true;
    r.top_logprobs = int32_t(top.value_or(0));
    r.params[0].logprobs = std::max<int32_t>(1, r.top_logprobs);
  }
  std::string rendered;
  try {
    rendered = model.text->chat_template->render(messages, options);
  } catch (const Error& e) {
    throw bad_request("messages", client_message(e));
  }
  std::vector<int32_t> ids;
  try {
    ids = model.text->tokenizer.encode(rendered,
                                       {.add_special_tokens = false});  // the template wrote BOS
  } catch (const Error& e) {
    throw bad_request("messages", client_message(e));
  }
  if (ids.empty()) throw bad_request("messages", "the rendered conversation is empty");
  r.prompts.push_back(std::move(ids));
  // max_completion_tokens (OpenAI's newer name) wins over max_tokens; both are type-checked.
  const std::optional<int64_t> legacy = f.integer("max_tokens", 1, INT32_MAX);
  const std::optional<int64_t> newer = f.integer("max_completion_tokens", 1, INT32_MAX);
  const char* max_field = newer ? "max_completion_tokens" : "max_tokens";
  const std::optional<int64_t> max_tokens = newer ? newer : legacy;
  r.params[0].max_tokens = resolve_max_tokens(int64_t(r.prompts[0].size()), model.max_model_len,
                                              "messages", max_tokens, INT32_MAX, max_field);
  engine_validate(r, model);
  return r;
}

}  // namespace pagedkv
