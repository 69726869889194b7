#pragma once
// A streamed response as server-sent events: one `data: {json}\n\n` chunk per new piece of text,
// `data: [DONE]\n\n` at the end. Chunks are OpenAI's:
//   completions: {"object": "text_completion", "choices": [{"index", "text", "logprobs",
//                 "finish_reason"}]}
//   chat:        {"object": "chat.completion.chunk", "choices": [{"index", "delta":
//                 {"role"?, "content"?}, "logprobs", "finish_reason"}]}
// A chat choice's first chunk carries role "assistant" and empty content; every choice ends with
// a chunk that has its finish_reason (and an empty delta). With stream_options.include_usage
// every chunk has "usage": null and a last chunk with no choices carries the usage.

#include <cstdint>
#include <string>
#include <vector>

#include "engine/output_processor.h"
#include "server/responses.h"

namespace pagedkv {

// One SSE event carrying `j`.
std::string sse_data(const Json& j);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

class StreamFormatter {
 public:
  StreamFormatter(ResponseMeta meta, const Tokenizer& tok, int32_t num_choices, bool include_usage);

  // Before any delta. Chat: each choice's role chunk; completions: nothing.
  std::string start();
  // One engine delta of choice `index`: a chunk with its text (and logprobs) when it has any,
  // then a finish chunk when the sample finished. Empty when there is nothing to send (text
  // held back, no logprobs asked).
  std::string delta(int32_t index, const OutputDelta& d);
  // The usage chunk (when asked for) and [DONE].
  std::string done(const Usage& usage);

 private:
  Json chunk(int32_t index, Json body, Json logprobs, const char* finish) const;

  ResponseMeta meta_;
  const Tokenizer& tok_;
  bool include_usage_;
  std::vector<int64_t> text_offset_;  // [choices]: characters streamed (completions logprobs)
};

}  // namespace pagedkv
