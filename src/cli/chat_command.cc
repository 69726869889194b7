#include "cli/chat_command.h"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/session.h"
#include "core/error.h"

namespace pagedkv {
namespace {

struct ChatOptionsCli {
  ModelFlags model;
  SamplingFlags sampling;
  PromptFlags prompt;  // --system, --chat-var
  int32_t max_new_tokens = 512;
};

void run_chat(ChatOptionsCli o) {
  const Session s = Session::load(o.model);
  PKV_CHECK(s.text && s.text->chat_template, InvalidArgument,
            "chat: the checkpoint has no chat template (tokenizer_config.json chat_template, or "
            "tokenizer.chat_template in a GGUF file); give one with --chat-template FILE");
  // One engine for the whole conversation: its prefix cache keeps earlier turns' blocks.
  std::string budget;
  Engine engine(*s.model, s.engine_config(4 * s.max_model_len(), &budget));
  if (!budget.empty()) std::cerr << budget << "\n";
  engine.set_listener([](const OutputDelta& d) {
    if (!d.text.empty()) std::cout << d.text << std::flush;
  });
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (!o.prompt.system.empty())
    messages.push_back({{"role", "system"}, {"content", o.prompt.system}});
  std::cerr << "pagedkv chat (" << o.model.model_dir << "): type a message; an empty line quits\n";
  for (std::string line;;) {
    std::cerr << "> " << std::flush;
    if (!std::getline(std::cin, line) || line.empty()) break;
    messages.push_back({{"role", "user"}, {"content", line}});
    const std::string rendered = render_chat(s, messages, o.prompt);
    std::vector<int32_t> ids = s.text->tokenizer.encode(rendered, {.add_special_tokens = false});
    const int64_t room = s.max_model_len() - int64_t(ids.size());
    PKV_CHECK(room >= 1, InvalidArgument, "chat: the conversation (", ids.size(),
              " tokens) fills the model's context of ", s.max_model_len(), " tokens");
    const int32_t max_tokens = int32_t(std::min<int64_t>(o.max_new_tokens, room));
    const SamplingParams sp = sampling_params(s, o.sampling, max_tokens, std::cerr);
    engine.add_request(ids, sp);
    const RequestOutput r = engine.run().at(0);
    std::cout << "\n";
    std::cerr << "[" << r.samples[0].tokens.size() << " tokens, finish "
              << finish_reason_name(r.samples[0].finish) << "; " << r.prefix_hit_tokens << " of "
              << ids.size() << " prompt tokens reused from the prefix cache]\n";
    messages.push_back({{"role", "assistant"}, {"content", r.samples[0].text}});
  }
}

}  // namespace

void register_chat_command(CLI::App& app) {
  auto o = std::make_shared<ChatOptionsCli>();
  CLI::App* cmd = app.add_subcommand("chat", "interactive chat with a Hugging Face checkpoint");
  o->model.add_to(cmd);
  o->sampling.add_to(cmd, false);
  cmd->add_option("--system", o->prompt.system, "system message");
  cmd->add_option("--chat-var", o->prompt.chat_vars,
                  "chat template variable KEY=JSON (repeatable), e.g. enable_thinking=false");
  cmd->add_option("--max-new-tokens", o->max_new_tokens, "most tokens per reply");
  cmd->callback([o] { run_chat(*o); });
}

}  // namespace pagedkv
