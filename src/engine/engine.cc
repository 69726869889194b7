#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/error.h"
#include "engine/cpu_model_runner.h"
#include "engine/sampler.h"

namespace pagedkv {

namespace {

EngineConfig resolve(EngineConfig c, const ModelRunner& model) {
  if (c.max_model_len == 0)
    c.max_model_len = model.max_model_len() > 0 ? model.max_model_len() : 4096;
  return c;
}

KvCacheConfig make_cache_config(const ModelRunner& model, const EngineConfig& c) {
  PKV_CHECK(c.num_blocks >= 1 && c.block_size >= 1, InvalidArgument, "engine: num_blocks (",
            c.num_blocks, ") and block_size (", c.block_size, ") must be >= 1");
  PKV_CHECK(c.max_model_len >= 2, InvalidArgument, "engine: max_model_len must be >= 2, got ",
            c.max_model_len);
  KvCacheConfig kc = model.kv_cache_config(c.num_blocks, c.block_size,
                                           c.kv_dtype.value_or(model.default_kv_dtype()));
  kc.enable_prefix_cache = c.enable_prefix_cache;
  return kc;
}

}  // namespace

Engine::Engine(ModelRunner& runner, EngineConfig config) : Engine(nullptr, &runner, config) {}

Engine::Engine(const CausalLm& model, EngineConfig config)
    : Engine(std::make_unique<CpuModelRunner>(model), nullptr, config) {}

Engine::Engine(std::unique_ptr<ModelRunner> owned, ModelRunner* borrowed, EngineConfig config)
    : owned_runner_(std::move(owned)),
      model_(borrowed ? *borrowed : *owned_runner_),
      config_(resolve(config, model_)),
      cache_(make_cache_config(model_, config_), model_.kv_storage_factory()),
      scheduler_(cache_, config_.scheduler),
      runner_(model_, cache_) {}

Sequence* Engine::new_sequence(RequestState& r, int32_t sample, std::vector<int32_t> tokens) {
  auto seq = std::make_unique<Sequence>(next_seq_++, r.request.id, r.arrival, sample,
                                        &r.request.params, std::move(tokens), config_.tokenizer);
  Sequence* p = seq.get();
  seqs_.emplace(p->id, std::move(seq));
  r.samples[sample] = p;
  return p;
}

RequestId Engine::add_request(std::vector<int32_t> prompt, SamplingParams params) {
  validate_request(prompt, params, {model_.vocab_size(), config_.max_model_len});
  PKV_CHECK(params.stop.empty() || config_.tokenizer != nullptr, InvalidArgument,
            "request: stop strings need the engine's tokenizer (EngineConfig::tokenizer)");
  PKV_CHECK(params.n <= config_.scheduler.max_num_seqs, InvalidArgument, "request: n = ", params.n,
            " samples run at once, more than max_num_seqs (", config_.scheduler.max_num_seqs,
            ") allows");
  const int64_t total = int64_t(prompt.size()) + params.max_tokens;
  PKV_CHECK(cache_.fits_empty_pool(total), InvalidArgument, "request: a sample of ", total,
            " tokens (prompt ", prompt.size(), " + max_tokens ", params.max_tokens,
            ") cannot fit the KV pool of ", config_.num_blocks, " blocks of ", config_.block_size,
            " tokens even when it is empty");
  // Validated: nothing below throws on the request's account.
  const RequestId id = next_request_++;
  RequestState& r = requests_[id];
  r.request = Request{id, std::move(prompt), std::move(params)};
  r.arrival = id;
  r.samples.assign(size_t(r.request.params.n), nullptr);
  Sequence* s = new_sequence(r, 0, r.request.prompt);
  s->forks_pending = r.request.params.n - 1;
  scheduler_.add_waiting(s);
  return id;
}

void Engine::on_token(Sequence* seq, int32_t token, std::span<const float> logits,
                      std::vector<RequestOutput>& done) {
  seq->tokens.push_back(token);  // fed to the model next step (a stop token too, never used)
  OutputDelta d = seq->out.add(token, logits);
  d.request = seq->request;
  d.sample = seq->sample;
  if (listener_) listener_(d);
  if (d.finish == FinishReason::kNone) return;
  scheduler_.finish(seq);
  RequestState& r = requests_.at(seq->request);
  if (++r.num_finished < r.request.params.n) return;
  ++finished_requests_;
  done.push_back(take_output(r));
}

RequestOutput Engine::take_output(RequestState& r) {
  RequestOutput out;
  out.id = r.request.id;
  out.prompt = std::move(r.request.prompt);
  if (r.samples[0]) out.prefix_hit_tokens = std::max<int64_t>(0, r.samples[0]->first_hit_tokens);
  for (Sequence* s : r.samples) {
    SampleOutput o;
    o.finish = FinishReason::kAbort;  // a sample never forked off its prompt
    if (s) {
      o.tokens = s->out.tokens();
      o.finish = s->out.finish();
      o.text = s->out.text();
      o.logprobs = s->out.logprobs();
      seqs_.erase(s->id);
    }
    out.samples.push_back(std::move(o));
  }
  requests_.erase(out.id);
  return out;
}

std::optional<RequestOutput> Engine::abort(RequestId id) {
  auto it = requests_.find(id);
  if (it == requests_.end()) return std::nullopt;
  RequestState& r = it->second;
  for (Sequence* s : r.samples) {
    if (!s || s->status == SeqStatus::kFinished) continue;
    scheduler_.remove(s);  // releases its blocks if it holds any
    OutputDelta d = s->out.abort();
    d.request = s->request;
    d.sample = s->sample;
    if (listener_) listener_(d);
  }
  return take_output(r);
}

std::vector<RequestOutput> Engine::step() {
  std::vector<RequestOutput> done;
  if (!has_unfinished()) return done;
  const ScheduledStep st = scheduler_.schedule();
  PKV_CHECK(!st.empty(), Internal, "engine: nothing schedulable with ", scheduler_.waiting().size(),
            " waiting and ", scheduler_.running().size(), " running sequences");
  const std::vector<LogitsRow> rows = runner_.execute(st);
  update_peaks();
  const int64_t V = model_.vocab_size();
  // Logits are checked every step (V floats a row, next to the sampling pass over them): NaN or
  // Inf fails that request with a clear error; the others, and the engine, go on.
  std::map<RequestId, std::string> failed;
  for (const LogitsRow& row : rows) {
    if (failed.count(row.seq->request)) continue;
    std::string which;  // the bad logit, when the host can see it
    if (row.logits) {
      const float* l = row.logits;
      const int64_t bad = std::find_if(l, l + V, [](float x) { return !std::isfinite(x); }) - l;
      if (bad == V) continue;
      which = str_cat(" (", l[bad], " for token ", bad, ")");
    } else if (row.token >= 0) {  // drawn on the device, which marks a non-finite row by -1
      continue;
    }
    failed[row.seq->request] =
        str_cat("request ", row.seq->request, ": the model produced a non-finite logit", which,
                " at position ", row.seq->tokens.size(),
                "; the request failed (check the checkpoint's weights)");
  }
  for (const LogitsRow& row : rows) {
    Sequence* s = row.seq;
    if (failed.count(s->request)) continue;
    std::vector<Sequence*> samplers{s};
    if (s->forks_pending > 0) {
      // The prompt is done: fork the other samples off it (blocks shared, not copied).
      RequestState& r = requests_.at(s->request);
      for (int32_t i = 1; i <= s->forks_pending; ++i) {
        Sequence* child = new_sequence(r, i, s->tokens);
        cache_.fork(s->id, child->id);
        child->num_cached = s->num_cached;
        scheduler_.add_running(child);
        samplers.push_back(child);
      }
      s->forks_pending = 0;
    }
    if (!row.logits) {  // drawn by the runner
      on_token(s, row.token, {}, done);
      continue;
    }
    const std::span<const float> logits(row.logits, size_t(V));
    for (Sequence* x : samplers) {
      // A device-sampling runner's requests draw every token the counter-based way, this one too.
      const int32_t token = model_.samples_on_device() ? sample_counter(logits, counter_draw(*x))
                                                       : sample_token(logits, *x->params, x->rng);
      on_token(x, token, logits, done);
    }
  }
  for (auto& [id, message] : failed) {
    std::optional<RequestOutput> out = abort(id);
    out->error = std::move(message);
    ++finished_requests_;
    done.push_back(std::move(*out));
  }
  ++steps_;
  return done;
}

std::vector<RequestOutput> Engine::run() {
  std::vector<RequestOutput> all;
  while (has_unfinished()) {
    std::vector<RequestOutput> done = step();
    for (RequestOutput& o : done) all.push_back(std::move(o));
  }
  std::sort(all.begin(), all.end(),
            [](const RequestOutput& a, const RequestOutput& b) { return a.id < b.id; });
  return all;
}

void Engine::update_peaks() {
  int64_t blocks = 0, bytes = 0;
  for (int32_t g = 0; g < cache_.num_groups(); ++g) {
    const AllocatorMetrics m = cache_.metrics(g);
    blocks += m.used_blocks;
    bytes += m.used_bytes;
  }
  peak_blocks_ = std::max(peak_blocks_, blocks);
  peak_bytes_ = std::max(peak_bytes_, bytes);
}

EngineMetrics Engine::metrics() const {
  EngineMetrics m;
  for (int32_t g = 0; g < cache_.num_groups(); ++g) {
    const AllocatorMetrics a = cache_.metrics(g);
    m.blocks_total += a.total_blocks;
    m.blocks_used += a.used_blocks;
    m.blocks_free += a.free_blocks;
    m.bytes_total += a.total_bytes;
    m.bytes_used += a.used_bytes;
  }
  m.peak_blocks_used = std::max(peak_blocks_, m.blocks_used);
  m.peak_bytes_used = std::max(peak_bytes_, m.bytes_used);
  const PrefixCacheMetrics p = cache_.prefix_metrics();
  m.blocks_cached = p.cached_blocks;
  m.prefix_queries = p.queries;
  m.prefix_query_tokens = p.query_tokens;
  m.prefix_hit_tokens = p.hit_tokens;
  m.prefix_hit_rate = p.query_tokens > 0 ? double(p.hit_tokens) / double(p.query_tokens) : 0.0;
  m.evictions = p.evictions;
  m.preemptions = scheduler_.num_preemptions();
  m.steps = steps_;
  const RunnerTimings& t = runner_.timings();
  m.prefill_tokens = t.prefill_tokens;
  m.decode_tokens = t.decode_tokens;
  m.prefill_seconds = t.prefill_seconds;
  m.decode_seconds = t.decode_seconds;
  m.running = int64_t(scheduler_.running().size());
  m.waiting = int64_t(scheduler_.waiting().size());
  m.finished_requests = finished_requests_;
  for (const auto& [id, r] : requests_) {
    const bool running = std::any_of(r.samples.begin(), r.samples.end(), [](const Sequence* s) {
      return s && s->status == SeqStatus::kRunning;
    });
    ++(running ? m.running_requests : m.waiting_requests);
  }
  return m;
}

}  // namespace pagedkv
