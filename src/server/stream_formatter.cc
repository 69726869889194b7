#include "server/stream_formatter.h"

namespace pagedkv {

std::string sse_data(const Json& j) { return "data: " + dump_json(j) + "\n\n"; }

StreamFormatter::StreamFormatter(ResponseMeta meta, const Tokenizer& tok, int32_t num_choices,
                                 bool include_usage)
    : meta_(std::move(meta)),
      tok_(tok),
      include_usage_(include_usage),
      text_offset_(size_t(num_choices), 0) {}

Json StreamFormatter::chunk(int32_t index, Json body, Json logprobs, const char* finish) const {
  const bool chat = meta_.endpoint == Endpoint::kChatCompletions;
  Json c;
  c["index"] = index;
  c[chat ? "delta" : "text"] = std::move(body);
  c["logprobs"] = std::move(logprobs);
  c["finish_reason"] = finish ? Json(finish) : Json(nullptr);
  Json j;
  j["id"] = meta_.id;
  j["object"] = chat ? "chat.completion.chunk" : "text_completion";
  j["created"] = meta_.created;
  j["model"] = meta_.model;
  j["choices"] = Json::array({std::move(c)});
  if (include_usage_) j["usage"] = nullptr;
  return j;
}

std::string StreamFormatter::start() {
  if (meta_.endpoint != Endpoint::kChatCompletions) return "";
  std::string out;
  for (size_t i = 0; i < text_offset_.size(); ++i)
    out += sse_data(chunk(int32_t(i), {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr));
  return out;
}

std::string StreamFormatter::delta(int32_t index, const OutputDelta& d) {
  const bool chat = meta_.endpoint == Endpoint::kChatCompletions;
  std::string out;
  const bool with_logprobs = meta_.logprobs && !d.logprobs.empty();
  if (!d.text.empty() || with_logprobs) {
    Json lp = nullptr;
    if (with_logprobs)
      lp = chat ? chat_logprobs(d.logprobs, tok_, meta_)
                : completion_logprobs(d.logprobs, tok_, meta_, text_offset_.at(size_t(index)));
    out += sse_data(
        chunk(index, chat ? Json{{"content", d.text}} : Json(d.text), std::move(lp), nullptr));
  }
  if (d.finish != FinishReason::kNone)
    out += sse_data(
        chunk(index, chat ? Json::object() : Json(""), nullptr, finish_reason_name(d.finish)));
  return out;
}

std::string StreamFormatter::done(const Usage& usage) {
  std::string out;
  if (include_usage_) {
    Json j;
    j["id"] = meta_.id;
    j["object"] =
        meta_.endpoint == Endpoint::kChatCompletions ? "chat.completion.chunk" : "text_completion";
    j["created"] = meta_.created;
    j["model"] = meta_.model;
    j["choices"] = Json::array();
    j["usage"] = usage_json(usage);
    out += sse_data(j);
  }
  return out + kSseDone;
}

}  // namespace pagedkv
