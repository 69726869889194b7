#include "engine/step_runner.h"

#include <chrono>

namespace pagedkv {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

CounterDraw counter_draw(const Sequence& s) {
  const SamplingParams& p = *s.params;
  return {.temperature = p.temperature,
          .top_k = p.top_k,
          .top_p = p.top_p,
          .min_p = p.min_p,
          .seed = p.seed + uint64_t(s.sample),
          .counter = uint64_t(s.num_generated())};
}

std::vector<LogitsRow> StepRunner::execute(const ScheduledStep& step) {
  const int64_t V = model_.vocab_size();
  std::vector<LogitsRow> rows;
  if (!step.decode.empty()) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<SeqId> ids;
    std::vector<int32_t> tokens;
    std::vector<CounterDraw> draws;
    bool on_device = model_.samples_on_device();
    for (const Sequence* s : step.decode) {
      ids.push_back(s->id);
      tokens.push_back(s->tokens.back());
      draws.push_back(counter_draw(*s));
      on_device = on_device && s->params->logprobs == 0;  // log-probabilities need the logits
    }
    std::vector<int32_t> drawn;
    if (on_device)
      drawn = model_.decode_sample(cache_, ids, tokens, draws);
    else
      decode_logits_ = model_.decode(cache_, ids, tokens);
    for (size_t i = 0; i < step.decode.size(); ++i) {
      Sequence* s = step.decode[i];
      ++s->num_cached;
      if (on_device)
        rows.push_back({s, nullptr, drawn[i]});
      else
        rows.push_back({s, decode_logits_.data() + int64_t(i) * V});
    }
    timings_.decode_seconds += seconds_since(t0);
    timings_.decode_tokens += int64_t(step.decode.size());
  }
  prefill_logits_.resize(step.prefill.size());
  for (size_t i = 0; i < step.prefill.size(); ++i) {
    const PrefillChunk& c = step.prefill[i];
    const auto t0 = std::chrono::steady_clock::now();
    const std::span<const int32_t> chunk(c.seq->tokens.data() + c.start, size_t(c.len));
    prefill_logits_[i] = model_.prefill(cache_, c.seq->id, c.start, chunk, false);
    c.seq->num_cached += c.len;
    if (!c.seq->prefilling() && c.seq->num_generated() == 0)
      rows.push_back({c.seq, prefill_logits_[i].data()});
    timings_.prefill_seconds += seconds_since(t0);
    timings_.prefill_tokens += c.len;
  }
  // Publish the blocks filled this step (O(1) for a sequence with no newly full block). A
  // sequence still prefilling is skipped: add_prompt appended (with ids) positions whose K/V are
  // not computed yet, and publishing those would hand other requests unwritten blocks.
  for (const Sequence* s : step.decode) cache_.cache_full_blocks(s->id);
  for (const PrefillChunk& c : step.prefill)
    if (!c.seq->prefilling()) cache_.cache_full_blocks(c.seq->id);
  return rows;
}

}  // namespace pagedkv
