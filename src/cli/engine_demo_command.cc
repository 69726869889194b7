#include "cli/engine_demo_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "engine/engine.h"
#include "engine/models.h"

namespace pagedkv {
namespace {

// The demo model's context: the system prompt + a request's own tokens + its new tokens.
constexpr int32_t kDemoContext = 4096;

struct EngineDemoOptions {
  int32_t requests = 64;
  int32_t system_prompt = 256;  // tokens shared by every request
  int32_t max_suffix = 40;      // each request adds 8..max_suffix tokens of its own
  int32_t max_tokens = 48;      // each request generates 16..max_tokens tokens
  int32_t block_size = 16;
  int32_t num_blocks = 160;  // small enough that the busy run preempts
  int32_t batch_tokens = 256;
  int32_t max_seqs = 64;
  uint64_t seed = 2024;
  bool check = true;
  // The model in batch-invariant mode (ModelOptions::batch_invariant), which the solo-run check
  // rests on; the fast kernels' run of the same workload is printed beside it.
  bool batch_invariant = true;
  std::string device = "cpu";  // cuda: a Llama-3.2-1B-shaped model, bf16 weights and KV on the GPU
};

struct Workload {
  std::vector<std::vector<int32_t>> prompts;
  std::vector<SamplingParams> params;
};

Workload make_workload(const EngineDemoOptions& o, int64_t vocab) {
  Rng rng(o.seed);
  auto tokens = [&](int64_t n) {
    std::vector<int32_t> t(n);
    for (int32_t& x : t) x = int32_t(rng.uniform_int(0, vocab - 1));
    return t;
  };
  const std::vector<int32_t> system = tokens(o.system_prompt);
  Workload w;
  for (int32_t i = 0; i < o.requests; ++i) {
    std::vector<int32_t> p = system;
    const auto own = tokens(rng.uniform_int(8, std::max(8, o.max_suffix)));
    p.insert(p.end(), own.begin(), own.end());
    SamplingParams sp;
    sp.max_tokens = int32_t(rng.uniform_int(std::min(16, o.max_tokens), o.max_tokens));
    if (i % 8 == 5) sp.n = 2;  // two samples fork the prompt's blocks
    if (i % 4 == 3) {          // seeded sampling: each sample draws from its own Rng
      sp.temperature = 0.8f;
      sp.top_p = 0.95f;
      sp.seed = uint64_t(o.seed + i);
    }
    w.prompts.push_back(std::move(p));
    w.params.push_back(sp);
  }
  return w;
}

struct RunResult {
  std::vector<RequestOutput> outputs;
  EngineMetrics metrics;
  double seconds = 0;
};

void progress(const Engine& e, int32_t total, bool tty) {
  const EngineMetrics m = e.metrics();
  const int32_t width = 32;
  const int32_t filled = int32_t(m.finished_requests * width / std::max(1, total));
  std::string bar(size_t(filled), '#');
  bar.resize(size_t(width), '.');
  char line[256];
  std::snprintf(
      line, sizeof line,
      "  [%s] %3lld/%d done | running %3lld waiting %3lld | blocks %4lld/%lld used, %4lld "
      "cached | preemptions %lld",
      bar.c_str(), (long long)m.finished_requests, total, (long long)m.running,
      (long long)m.waiting, (long long)m.blocks_used, (long long)m.blocks_total,
      (long long)m.blocks_cached, (long long)m.preemptions);
  std::cout << (tty ? "\r" : "") << line << (tty ? "" : "\n") << std::flush;
}

RunResult serve(ModelRunner& model, const Workload& w, const EngineConfig& c, bool show) {
  Engine e(model, c);
  for (size_t i = 0; i < w.prompts.size(); ++i) e.add_request(w.prompts[i], w.params[i]);
  const bool tty = isatty(STDOUT_FILENO) != 0;
  RunResult r;
  const auto t0 = std::chrono::steady_clock::now();
  int64_t last_shown = -1;
  while (e.has_unfinished()) {
    for (RequestOutput& o : e.step()) r.outputs.push_back(std::move(o));
    const int64_t bucket = int64_t(r.outputs.size()) / 8;
    // On a terminal: redraw every step; in a log: a line each time 8 more requests are done.
    if (show && (tty || bucket != last_shown)) {
      progress(e, int32_t(w.prompts.size()), tty);
      last_shown = bucket;
    }
  }
  if (show && tty) std::cout << "\n";
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.metrics = e.metrics();
  std::sort(r.outputs.begin(), r.outputs.end(),
            [](const RequestOutput& a, const RequestOutput& b) { return a.id < b.id; });
  return r;
}

std::string mib(int64_t bytes) { return str_cat(double(bytes) / (1 << 20), " MiB"); }

void run_engine_demo(const EngineDemoOptions& o) {
  const bool gpu = o.device == "cuda";
  // The GPU gets a model big enough that its throughput means something; the CPU keeps the tiny
  // one that serves the workload in seconds on 2 cores.
  const SyntheticModelSpec spec =
      gpu ? SyntheticModelSpec::llama_1b() : SyntheticModelSpec::small();
  ModelOptions mo;
  mo.device = o.device;
  mo.batch_invariant = o.batch_invariant;
  const std::unique_ptr<ModelRunner> runner = load_synthetic_model(spec, mo);
  ModelRunner& model = *runner;
  const Workload w = make_workload(o, spec.vocab_size);
  int64_t generated_max = 0, samples = 0;
  for (const SamplingParams& p : w.params) {
    generated_max += int64_t(p.n) * p.max_tokens;
    samples += p.n;
  }
  std::cout << "pagedkv demo: a synthetic Llama-3-shaped model (" << spec.num_layers
            << " layers, hidden " << spec.hidden_size << ", " << spec.num_heads << " query / "
            << spec.num_kv_heads << " kv heads of " << spec.head_dim << ", vocab "
            << spec.vocab_size << ", " << spec.num_parameters() << " parameters, seed " << spec.seed
            << (gpu ? "; bf16 weights drawn on the GPU, bf16 KV pool on the GPU" : "")
            << (mo.batch_invariant ? "; batch-invariant decode" : "") << ")\n"
            << "serving " << o.requests << " requests (" << samples << " samples) that share a "
            << o.system_prompt << "-token system prompt, each with 8.." << o.max_suffix
            << " tokens of its own and up to " << o.max_tokens
            << " new tokens; every 8th request has "
            << "n = 2, every 4th samples at temperature 0.8 (seeded), the rest are greedy.\n"
            << "pool: " << o.num_blocks << " blocks of " << o.block_size << " tokens, token budget "
            << o.batch_tokens << " per step, up to " << o.max_seqs << " running sequences\n\n";

  EngineConfig c;
  c.num_blocks = o.num_blocks;
  c.block_size = o.block_size;
  c.max_model_len = kDemoContext;
  c.scheduler.max_num_batched_tokens = o.batch_tokens;
  c.scheduler.max_num_seqs = o.max_seqs;
  std::cout << "1. continuous batching with prefix sharing in the small pool\n";
  const RunResult shared = serve(model, w, c, true);
  const EngineMetrics& m = shared.metrics;

  int64_t all_blocks = 0;  // every sample's blocks at once, nothing shared
  for (size_t i = 0; i < w.prompts.size(); ++i)
    all_blocks +=
        int64_t(w.params[i].n) *
        ((int64_t(w.prompts[i].size()) + w.params[i].max_tokens + o.block_size - 1) / o.block_size +
         1);
  EngineConfig big = c;
  big.num_blocks = int32_t(all_blocks);
  std::cout << "2. the same requests in a pool large enough for all of them, with prefix sharing\n";
  const RunResult roomy = serve(model, w, big, false);
  std::cout << "3. ... and without prefix sharing (prefix cache off)\n";
  big.enable_prefix_cache = false;
  const RunResult plain = serve(model, w, big, false);

  auto pool_line = [&](const char* what, const RunResult& r) {
    const EngineMetrics& x = r.metrics;
    std::cout << "  " << what << "peak " << x.peak_blocks_used << " of " << x.blocks_total
              << " blocks (" << mib(x.peak_bytes_used) << "), " << x.prefill_tokens
              << " prefill tokens computed, " << x.preemptions << " preemptions, " << x.steps
              << " steps in " << r.seconds << " s\n";
  };
  std::cout << "\nthroughput (run 1): " << m.prefill_tokens << " prefill tokens at "
            << int64_t(m.prefill_tokens_per_s()) << " tok/s, " << m.decode_tokens
            << " decode tokens at " << int64_t(m.decode_tokens_per_s()) << " tok/s; " << m.steps
            << " steps in " << shared.seconds << " s\n"
            << "pool (" << (m.blocks_total > 0 ? m.bytes_total / m.blocks_total : 0)
            << " bytes per block):\n";
  pool_line("1. small pool, sharing:    ", shared);
  pool_line("2. large pool, sharing:    ", roomy);
  pool_line("3. large pool, no sharing: ", plain);
  std::cout << "prefix cache (run 1): " << m.prefix_hit_tokens << " of " << m.prefix_query_tokens
            << " prompt tokens served from cached blocks (hit rate " << 100.0 * m.prefix_hit_rate
            << "%), " << m.blocks_cached << " blocks cached at the end, " << m.evictions
            << " evictions\n"
            << "preemptions (run 1): " << m.preemptions
            << " (recomputed from their tokens later)\n";

  if (!o.check) return;
  std::cout << "\n4. check: every request alone (fresh engine, large pool) gives the same tokens\n";
  const RunResult* runs[] = {&shared, &roomy, &plain};
  int32_t same[3] = {0, 0, 0};
  for (size_t i = 0; i < w.prompts.size(); ++i) {
    EngineConfig solo = c;  // room for every sample at once: nothing is ever preempted
    solo.num_blocks = int32_t(
        w.params[i].n *
        ((int64_t(w.prompts[i].size()) + w.params[i].max_tokens + o.block_size - 1) / o.block_size +
         1));
    Engine e(model, solo);
    e.add_request(w.prompts[i], w.params[i]);
    const std::vector<RequestOutput> alone = e.run();
    for (int r = 0; r < 3; ++r) {
      bool ok = true;
      for (size_t s = 0; s < alone[0].samples.size(); ++s)
        ok = ok && runs[r]->outputs[i].samples[s].tokens == alone[0].samples[s].tokens;
      same[r] += ok ? 1 : 0;
      if (!ok) std::cout << "  MISMATCH: run " << r + 1 << ", request " << i << "\n";
    }
  }
  for (int r = 0; r < 3; ++r)
    std::cout << "  run " << r + 1 << ": " << same[r] << "/" << o.requests
              << " requests identical\n";
  const bool all_same = same[0] == o.requests && same[1] == o.requests && same[2] == o.requests;
  if (gpu && !all_same && !mo.batch_invariant)
    std::cout << "  (without --batch-invariant a row's logits on the GPU depend on its batch: the "
                 "matrix products take a different kernel per batch size (the small-M kernel for "
                 "one row, cuBLASLt's pick, split-K included, above) and the decode attention a "
                 "different split count, so rows round differently alone and in a batch; where "
                 "the top two logits are closer than that rounding the tokens fork)\n";
  PKV_CHECK(all_same, Internal, "demo: some requests differ from their solo runs");
  std::cout << "  (this proves batch independence only: a request's tokens do not depend on what "
               "runs beside it. An engine that is wrong the same way alone and in a batch, e.g. a "
               "broken sampler or kernel, passes it.)\n";

  if (mo.batch_invariant) {
    // What the invariance costs: run 1 again on the fast kernels (a second copy of the weights).
    ModelOptions fast_options = mo;
    fast_options.batch_invariant = false;
    const std::unique_ptr<ModelRunner> fast = load_synthetic_model(spec, fast_options);
    const RunResult f = serve(*fast, w, c, false);
    int32_t equal = 0;
    for (size_t i = 0; i < w.prompts.size(); ++i) {
      bool ok = true;
      for (size_t s = 0; s < f.outputs[i].samples.size(); ++s)
        ok = ok && f.outputs[i].samples[s].tokens == shared.outputs[i].samples[s].tokens;
      equal += ok ? 1 : 0;
    }
    std::cout << "  cost of batch invariance (run 1 again, fast kernels): decode "
              << int64_t(f.metrics.decode_tokens_per_s()) << " tok/s vs "
              << int64_t(m.decode_tokens_per_s()) << " tok/s batch-invariant, prefill "
              << int64_t(f.metrics.prefill_tokens_per_s()) << " vs "
              << int64_t(m.prefill_tokens_per_s()) << " tok/s; " << f.seconds << " s vs "
              << shared.seconds << " s; " << equal << "/" << o.requests
              << " requests with the same tokens in both\n";
  }

  // A check a wrong engine cannot pass: request 0 (greedy) against a dense forward pass that
  // shares no code with the engine, the KV pool or its kernels (model/reference_forward.h). It
  // needs the very weights the engine ran: the CPU's. The GPU model's are drawn on the device (a
  // different generator, bf16), so on the GPU this check is model_cuda_test's: the CUDA model
  // against HF transformers' logits on every family.
  if (gpu) {
    std::cout << "\n5. (the dense reference check runs with --device cpu: the GPU model's weights "
                 "are drawn on the device; model_cuda_test checks the GPU model against HF)\nOK\n";
    return;
  }
  std::cout << "\n5. check: request 0's greedy tokens == a plain dense forward on the same weights "
               "(no KV pool, scheduler, paged kernels or sampler)\n";
  const std::vector<int32_t>& engine_tokens = shared.outputs[0].samples[0].tokens;
  const std::vector<int32_t> reference =
      synthetic_reference_greedy(spec, w.prompts[0], int32_t(engine_tokens.size()));
  size_t agree = 0;
  while (agree < reference.size() && reference[agree] == engine_tokens[agree]) ++agree;
  std::cout << "  " << agree << "/" << reference.size() << " tokens identical\n";
  PKV_CHECK(agree == reference.size(), Internal,
            "demo: request 0 differs from the reference "
            "forward pass at token ",
            agree);
  std::cout << "OK\n";
}

}  // namespace

void register_engine_demo_command(CLI::App& app) {
  auto opt = std::make_shared<EngineDemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Serve many requests sharing a system prompt on a built-in synthetic model");
  // Ranges checked as the flags are parsed (CLI11 names the flag); the engine checks the rest.
  cmd->add_option("--requests", opt->requests, "number of requests")->check(CLI::Range(1, 4096));
  cmd->add_option("--system-prompt", opt->system_prompt, "tokens of the shared system prompt")
      ->check(CLI::Range(0, kDemoContext / 2));
  cmd->add_option("--max-suffix", opt->max_suffix, "most tokens of a request's own (>= 8)")
      ->check(CLI::Range(8, kDemoContext / 4));
  cmd->add_option("--max-tokens", opt->max_tokens, "most new tokens per sample")
      ->check(CLI::Range(1, kDemoContext / 4));
  cmd->add_option("--block-size", opt->block_size, "tokens per KV block")
      ->check(CLI::Range(1, 256));
  cmd->add_option("--num-blocks", opt->num_blocks, "KV pool size in blocks")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--batch-tokens", opt->batch_tokens, "token budget per step")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--max-seqs", opt->max_seqs, "most running sequences")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--seed", opt->seed, "workload seed");
  cmd->add_option(
         "--device", opt->device,
         "cpu (a 0.9 M-parameter model) or cuda (a Llama-3.2-1B-shaped one, bf16 on the GPU)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_flag("!--no-check", opt->check, "skip the solo-run check");
  cmd->add_flag("--batch-invariant,!--no-batch-invariant", opt->batch_invariant,
                "batch-invariant decode (default; the solo-run check rests on it)");
  cmd->callback([opt] { run_engine_demo(*opt); });
}

}  // namespace pagedkv
