#include "engine/scheduler.h"

#include <algorithm>

#include "core/error.h"

namespace pagedkv {

void SchedulerConfig::validate() const {
  PKV_CHECK(max_num_seqs >= 1, InvalidArgument, "max_num_seqs must be >= 1, got ", max_num_seqs);
  PKV_CHECK(max_num_batched_tokens >= max_num_seqs, InvalidArgument, "max_num_batched_tokens (",
            max_num_batched_tokens, ") must be >= max_num_seqs (", max_num_seqs,
            "): every running sequence decodes one token per step");
}

int64_t ScheduledStep::num_tokens() const {
  int64_t n = int64_t(decode.size());
  for (const PrefillChunk& c : prefill) n += c.len;
  return n;
}

Scheduler::Scheduler(KvCache& cache, SchedulerConfig config) : cache_(cache), config_(config) {
  config_.validate();
}

void Scheduler::insert_waiting(Sequence* seq) {
  auto it = std::find_if(waiting_.begin(), waiting_.end(),
                         [&](const Sequence* w) { return seq->older_than(*w); });
  waiting_.insert(it, seq);
}

void Scheduler::add_waiting(Sequence* seq) {
  PKV_CHECK(seq->status == SeqStatus::kWaiting && seq->num_cached == 0, Internal,
            "add_waiting: sequence ", seq->id, " is not a fresh waiting sequence");
  insert_waiting(seq);
}

void Scheduler::add_running(Sequence* seq) {
  PKV_CHECK(cache_.has_sequence(seq->id), Internal, "add_running: sequence ", seq->id,
            " has no blocks in the cache");
  seq->status = SeqStatus::kRunning;
  running_.push_back(seq);
}

void Scheduler::finish(Sequence* seq) {
  auto it = std::find(running_.begin(), running_.end(), seq);
  PKV_CHECK(it != running_.end(), Internal, "finish: sequence ", seq->id, " is not running");
  running_.erase(it);
  cache_.release(seq->id);  // newest block first: the prompt's head stays cached longest
  seq->status = SeqStatus::kFinished;
}

void Scheduler::remove(Sequence* seq) {
  if (seq->status == SeqStatus::kRunning) {
    finish(seq);
    return;
  }
  auto it = std::find(waiting_.begin(), waiting_.end(), seq);
  PKV_CHECK(it != waiting_.end(), Internal, "remove: sequence ", seq->id, " is not scheduled");
  waiting_.erase(it);
  seq->status = SeqStatus::kFinished;
}

void Scheduler::preempt(Sequence* seq, ScheduledStep& step) {
  running_.erase(std::find(running_.begin(), running_.end(), seq));
  cache_.release(seq->id);
  seq->num_cached = 0;
  seq->status = SeqStatus::kWaiting;
  insert_waiting(seq);
  step.preempted.push_back(seq);
  ++num_preemptions_;
}

bool Scheduler::prefix_pending(const Sequence& seq, int64_t hit_tokens) const {
  const int64_t target = seq.prefill_target();
  const int64_t bs = cache_.geometry(0).block_size;
  const int64_t usable = ((target - 1) / bs) * bs;  // the cache's cap: the last token is recomputed
  if (usable <= hit_tokens) return false;
  for (const Sequence* r : running_) {
    if (!r->prefilling()) continue;
    const int64_t n = std::min(usable, r->prefill_target());
    int64_t common = 0;
    while (common < n && r->tokens[common] == seq.tokens[common]) ++common;
    if ((common / bs) * bs > hit_tokens) return true;
  }
  return false;
}

bool Scheduler::try_admit(Sequence* seq, std::vector<int64_t>& reserved) {
  const std::span<const int32_t> tokens(seq->tokens.data(), size_t(seq->prefill_target()));
  const PrefixHit hit = cache_.lookup(tokens);
  // A running sequence is computing blocks this one could share once they are published: wait
  // for them rather than compute (and hold) a second copy.
  if (cache_.prefix_cache_enabled() && prefix_pending(*seq, hit.num_tokens)) return false;
  const std::vector<int64_t> need = cache_.blocks_to_admit(hit, int64_t(tokens.size()));
  for (int32_t g = 0; g < cache_.num_groups(); ++g)
    if (need[g] + reserved[g] > cache_.allocator(g).available()) return false;
  const int64_t cached = cache_.add_prompt(seq->id, tokens);
  for (int32_t g = 0; g < cache_.num_groups(); ++g) reserved[g] += need[g];
  seq->num_cached = cached;
  seq->prefix_hit_tokens += cached;
  if (seq->first_hit_tokens < 0) seq->first_hit_tokens = cached;
  seq->status = SeqStatus::kRunning;
  running_.push_back(seq);
  return true;
}

std::vector<int64_t> Scheduler::decode_need() const {
  std::vector<SeqId> decoding;
  for (const Sequence* s : running_)
    if (!s->prefilling()) decoding.push_back(s->id);
  return cache_.blocks_for_decode(decoding);
}

ScheduledStep Scheduler::schedule() {
  ScheduledStep step;
  // 1. Blocks this step's decode tokens need; preempt the newest request until they fit.
  std::vector<int64_t> need;
  for (;;) {
    need = decode_need();
    if (cache_.fits(need)) break;
    Sequence* newest =
        *std::max_element(running_.begin(), running_.end(),
                          [](const Sequence* a, const Sequence* b) { return a->older_than(*b); });
    const bool alone = std::all_of(running_.begin(), running_.end(), [&](const Sequence* s) {
      return s->request == newest->request;
    });
    if (alone) {
      preempt(newest, step);
    } else {
      std::vector<Sequence*> victims;
      for (Sequence* s : running_)
        if (s->request == newest->request) victims.push_back(s);
      for (Sequence* s : victims) preempt(s, step);
    }
  }
  // 2. Decode tokens of every sequence past its prefill, then prefill chunks under the budget.
  int64_t budget = config_.max_num_batched_tokens;
  for (Sequence* s : running_)
    if (!s->prefilling()) step.decode.push_back(s);
  budget -= int64_t(step.decode.size());
  for (Sequence* s : running_) {
    if (budget <= 0) break;
    if (!s->prefilling()) continue;
    const int64_t len = std::min(budget, s->prefill_target() - s->num_cached);
    step.prefill.push_back({s, s->num_cached, len});
    budget -= len;
  }
  // 3. Admit waiting sequences oldest first while the budget and the pool allow (no skipping
  // ahead: a large request at the front is not starved by smaller ones behind it). Not in a step
  // that had to preempt: the pool is short, and re-admitting would only thrash.
  // A sequence with forks pending brings them into running_ when its prompt is done (n samples
  // of one request): all of them count against max_num_seqs now, so forks never push the batch
  // past max_num_seqs (or, since max_num_batched_tokens >= max_num_seqs, past the token budget).
  while (step.preempted.empty() && budget > 0 && !waiting_.empty() &&
         int64_t(running_.size()) + 1 + waiting_.front()->forks_pending <= config_.max_num_seqs) {
    Sequence* s = waiting_.front();
    if (!try_admit(s, need)) break;
    waiting_.pop_front();
    const int64_t len = std::min(budget, s->prefill_target() - s->num_cached);
    step.prefill.push_back({s, s->num_cached, len});
    budget -= len;
  }
  return step;
}

}  // namespace pagedkv
