#include "tokenizer/chat_template.h"

#include "core/error.h"

namespace pagedkv {

ChatTemplate::ChatTemplate(std::string source, SpecialTokens tokens)
    : source_(std::move(source)), tokens_(std::move(tokens)), template_(source_) {}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages,
                                 const ChatOptions& options) const {
  PKV_CHECK(messages.is_array(), InvalidArgument, "chat template: messages must be a JSON array");
  PKV_CHECK(options.extra.is_object(), InvalidArgument,
            "chat template: extra variables must be a JSON object");
  jinja::Dict globals;
  globals.set("messages", jinja::Value::from_json(messages));
  globals.set("tools", jinja::Value(jinja::None{}));
  globals.set("documents", jinja::Value(jinja::None{}));
  globals.set("add_generation_prompt", jinja::Value(options.add_generation_prompt));
  auto special = [&](const char* name, const std::optional<std::string>& value) {
    if (value) globals.set(name, jinja::Value(*value));
  };
  special("bos_token", tokens_.bos_token);
  special("eos_token", tokens_.eos_token);
  special("unk_token", tokens_.unk_token);
  special("pad_token", tokens_.pad_token);
  for (auto it = options.extra.begin(); it != options.extra.end(); ++it) {
    globals.set(it.key(), jinja::Value::from_json(it.value()));
  }
  return template_.render(globals);
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages,
                                 const ChatOptions& options) const {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const ChatMessage& m : messages) j.push_back({{"role", m.role}, {"content", m.content}});
  return render(j, options);
}

}  // namespace pagedkv
