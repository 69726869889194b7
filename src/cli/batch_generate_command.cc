#include "cli/batch_generate_command.h"

#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/id_list.h"
#include "cli/session.h"
#include "core/error.h"

namespace pagedkv {
namespace {

struct BatchGenerateOptions {
  ModelFlags model;
  SamplingFlags sampling;
  std::vector<std::string> prompt_ids;  // each "id,id,..."
  std::vector<std::string> prompts;     // text prompts
  int32_t max_new_tokens = 16;
  int32_t batch_tokens = 256;
  int32_t max_seqs = 64;
  bool no_prefix_cache = false;
};

void run_batch_generate(BatchGenerateOptions o) {
  PKV_CHECK(!o.prompt_ids.empty() || !o.prompts.empty(), InvalidArgument,
            "give at least one --prompt or --prompt-ids");
  if (o.model.num_blocks == 0) o.model.num_blocks = 1024;
  const Session s = Session::load(o.model);
  std::vector<std::vector<int32_t>> prompts;
  for (const std::string& p : o.prompt_ids) prompts.push_back(parse_id_list(p, "--prompt-ids"));
  for (const std::string& p : o.prompts) {
    PromptFlags f;
    f.text = p;
    prompts.push_back(prompt_ids(s, f));
  }
  const SamplingParams sp = sampling_params(s, o.sampling, o.max_new_tokens, std::cerr);
  std::string budget;
  EngineConfig c = s.engine_config(0, &budget);
  if (!budget.empty()) std::cerr << budget << "\n";
  c.enable_prefix_cache = !o.no_prefix_cache;
  c.scheduler.max_num_batched_tokens = o.batch_tokens;
  c.scheduler.max_num_seqs = o.max_seqs;
  Engine engine(*s.model, c);
  for (auto& p : prompts) engine.add_request(std::move(p), sp);  // all validated before any runs
  std::string errors;  // failed requests are reported after the others' output
  for (const RequestOutput& r : engine.run()) {
    if (!r.error.empty()) errors += str_cat(errors.empty() ? "" : "; ", r.error);
    for (const SampleOutput& x : r.samples) {
      if (s.text) {
        std::cout << x.text << "\n";
      } else {
        for (size_t i = 0; i < x.tokens.size(); ++i) std::cout << (i ? "," : "") << x.tokens[i];
        std::cout << "\n";
      }
    }
  }
  const EngineMetrics m = engine.metrics();
  std::cerr << "requests " << m.finished_requests << ", steps " << m.steps << ", prefill "
            << m.prefill_tokens << " tokens (" << int64_t(m.prefill_tokens_per_s())
            << " tok/s), decode " << m.decode_tokens << " tokens ("
            << int64_t(m.decode_tokens_per_s()) << " tok/s), peak " << m.peak_blocks_used << "/"
            << m.blocks_total << " blocks, prefix hits " << m.prefix_hit_tokens << "/"
            << m.prefix_query_tokens << " tokens, preemptions " << m.preemptions << "\n";
  PKV_CHECK(errors.empty(), Corrupt, errors);
}

}  // namespace

void register_batch_generate_command(CLI::App& app) {
  auto o = std::make_shared<BatchGenerateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "batch-generate",
      "several prompts at once through the engine, from a Hugging Face checkpoint");
  o->model.add_to(cmd);
  o->sampling.add_to(cmd, true);
  cmd->add_option("--prompt-ids", o->prompt_ids,
                  "a prompt's token ids, comma-separated (repeat per prompt)");
  cmd->add_option("--prompt", o->prompts, "a text prompt (repeat per prompt)");
  cmd->add_option("--max-new-tokens", o->max_new_tokens, "new tokens per sample (>= 1)");
  cmd->add_option("--batch-tokens", o->batch_tokens, "token budget per step");
  cmd->add_option("--max-seqs", o->max_seqs, "most running sequences");
  cmd->add_flag("--no-prefix-cache", o->no_prefix_cache, "turn prefix reuse off");
  cmd->callback([o] { run_batch_generate(*o); });
}

}  // namespace pagedkv
