#include "cli/generate_command.h"

#include <climits>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/session.h"
#include "core/error.h"

namespace pagedkv {
namespace {

struct GenerateOptions {
  ModelFlags model;
  SamplingFlags sampling;
  PromptFlags prompt;
  int32_t max_new_tokens = 0;  // 0: 16, or less when the context has less room
  bool json = false;
};

nlohmann::ordered_json logprobs_json(const std::vector<TokenLogprobs>& lps) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (const TokenLogprobs& t : lps) {
    nlohmann::ordered_json top = nlohmann::ordered_json::array();
    for (const auto& [id, lp] : t.top) top.push_back({{"id", id}, {"logprob", lp}});
    a.push_back({{"id", t.token}, {"logprob", t.logprob}, {"top", top}});
  }
  return a;
}

void run_generate(const GenerateOptions& o) {
  const Session s = Session::load(o.model);
  std::vector<int32_t> prompt = prompt_ids(s, o.prompt);
  const int64_t prompt_len = int64_t(prompt.size());
  const int32_t max_tokens = default_max_tokens(prompt_len, s.max_model_len(), o.max_new_tokens);
  // The context limit first, as batch-generate's engine checks it: the pool below is sized for
  // n * (prompt + max_tokens), so --max-new-tokens 5000000 must be refused before it is built.
  PKV_CHECK(prompt_len < s.max_model_len(), InvalidArgument, "the prompt has ", prompt_len,
            " tokens; the context is ", s.max_model_len(),
            " tokens (it must leave room for >= 1 new token)");
  PKV_CHECK(prompt_len + int64_t(max_tokens) <= s.max_model_len(), InvalidArgument,
            "--max-new-tokens ", max_tokens, ": the prompt (", prompt_len, " tokens) + ",
            max_tokens, " new tokens exceed the context of ", s.max_model_len(),
            " tokens (--max-model-len, else config.json max_position_embeddings)");
  const SamplingParams sp = sampling_params(s, o.sampling, max_tokens, std::cerr);
  validate_request(prompt, sp, {s.model->vocab_size(), s.max_model_len()});
  std::string budget;
  Engine engine(*s.model, s.engine_config(int64_t(sp.n) * (prompt_len + max_tokens), &budget));
  if (!budget.empty()) std::cerr << budget << "\n";
  // Text streams to stdout as it is generated (one sample, not --json); else printed at the end.
  const bool stream = s.text && !o.json && sp.n == 1;
  if (stream)
    engine.set_listener([](const OutputDelta& d) {
      if (!d.text.empty()) std::cout << d.text << std::flush;
    });
  engine.add_request(std::move(prompt), sp);
  const std::vector<RequestOutput> done = engine.run();
  const RequestOutput& r = done.at(0);
  PKV_CHECK(r.error.empty(), Corrupt, r.error);
  if (o.json) {
    nlohmann::ordered_json j;
    j["prompt_tokens"] = prompt_len;
    j["cached_prompt_tokens"] = r.prefix_hit_tokens;
    j["seed"] = sp.seed;
    nlohmann::ordered_json samples = nlohmann::ordered_json::array();
    for (const SampleOutput& x : r.samples) {
      nlohmann::ordered_json one;
      one["tokens"] = x.tokens;
      if (s.text) one["text"] = x.text;
      one["finish_reason"] = finish_reason_name(x.finish);
      if (sp.logprobs > 0) one["logprobs"] = logprobs_json(x.logprobs);
      samples.push_back(std::move(one));
    }
    j["samples"] = std::move(samples);
    std::cout << j.dump(2) << "\n";
    return;
  }
  for (const SampleOutput& x : r.samples) {
    if (stream) {
      std::cout << "\n";
    } else if (s.text) {
      std::cout << x.text << "\n";
    } else {  // no tokenizer: ids
      for (size_t i = 0; i < x.tokens.size(); ++i) std::cout << (i ? "," : "") << x.tokens[i];
      std::cout << "\n";
    }
    std::cerr << "[" << x.tokens.size() << " tokens, finish: " << finish_reason_name(x.finish)
              << "]\n";
  }
}

}  // namespace

void register_generate_command(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "generate",
      "generate from a prompt (text, chat or token ids) with a Hugging Face checkpoint");
  o->model.add_to(cmd);
  o->prompt.add_to(cmd);
  o->sampling.add_to(cmd, true);
  cmd->add_option("--max-new-tokens", o->max_new_tokens,
                  "tokens to generate (default 16, or the room the context leaves)")
      ->check(CLI::Range(0, INT32_MAX));
  cmd->add_flag("--json", o->json,
                "print one JSON object: ids, text, finish reason (stop / length), logprobs");
  cmd->callback([o] { run_generate(*o); });
}

}  // namespace pagedkv
