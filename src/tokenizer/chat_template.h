#pragma once
// Chat templates (tokenizer_config.json "chat_template", or chat_template.jinja beside it),
// rendered as transformers' apply_chat_template(messages, tokenize=False, ...) does: the
// template sees `messages`, `add_generation_prompt`, `tools` and `documents` (None unless
// given), the special token strings (bos_token, eos_token, ...) that are set, and any extra
// variables (e.g. Qwen 3's enable_thinking, Llama 3's date_string).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/jinja/template.h"

namespace pagedkv {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool", ...
  std::string content;
};

struct ChatOptions {
  bool add_generation_prompt = true;
  // Extra template variables: {"enable_thinking": false}, {"tools": [...]}, ...
  nlohmann::ordered_json extra = nlohmann::ordered_json::object();
};

// Special token strings a template may print (transformers passes the ones that are set).
struct SpecialTokens {
  std::optional<std::string> bos_token, eos_token, unk_token, pad_token;
};

class ChatTemplate {
 public:
  // Parses now: a syntax error or an unsupported construct is reported here, naming it.
  ChatTemplate(std::string source, SpecialTokens tokens);

  // messages: a JSON array of {"role", "content", ...} objects (content may be a string or a
  // list of parts; assistant messages may carry tool_calls, reasoning_content, ...).
  // A template's raise_exception(msg) becomes Error(kInvalidArgument, "chat template raised: msg").
  std::string render(const nlohmann::ordered_json& messages, const ChatOptions& options = {}) const;
  std::string render(const std::vector<ChatMessage>& messages,
                     const ChatOptions& options = {}) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;
  SpecialTokens tokens_;
  jinja::Template template_;
};

}  // namespace pagedkv
