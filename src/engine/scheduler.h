#pragma once
// Scheduler: continuous batching over one KvCache (vLLM v1 / nano-vllm style).
//
// Every step mixes, under a token budget (max_num_batched_tokens):
//   1. one decode token for every running sequence whose prefill is done;
//   2. the next chunk of every running sequence still prefilling (chunked prefill);
//   3. newly admitted sequences' first chunks, FCFS from the waiting queue.
//
// Memory is checked before anything is touched (check-then-act), per layer group:
//   - A sequence is admitted only when the pool can hold its WHOLE prefill (all or nothing):
//     the blocks its remaining prompt needs are reserved until its prefill completes, so chunks
//     of admitted sequences never run out of blocks mid-prompt.
//   - Decode needs <= 1 block per sequence (a new tail block or a copy-on-write of a shared tail).
//     When the decode blocks plus the reservations exceed what the pool can hand out, the newest
//     request is preempted: its blocks are released and it goes back to the front of the waiting
//     queue to be recomputed from its tokens later (if it is the only request left, its newest
//     sample goes alone). The oldest sequences therefore always make progress.
// The block estimates are upper bounds (+1 block per sequence for a copy-on-write tail, sliding
// groups counted as if they kept every block), so an admitted step can never fail to append.

#include <cstdint>
#include <deque>
#include <vector>

#include "engine/prefix_reuse.h"
#include "engine/sequence.h"
#include "kv/kv_cache.h"

namespace pagedkv {

struct SchedulerConfig {
  int32_t max_num_batched_tokens = 256;  // decode tokens + prefill chunk tokens per step
  int32_t max_num_seqs = 64;             // running sequences (decode batch size cap)
};

struct PrefillChunk {
  Sequence* seq = nullptr;
  int64_t start = 0;  // first token index (== seq->num_cached when scheduled)
  int64_t len = 0;
};

struct ScheduledStep {
  std::vector<Sequence*> decode;       // one token each: tokens.back()
  std::vector<PrefillChunk> prefill;   // in running order
  std::vector<Sequence*> preempted;    // sent back to waiting while scheduling this step
  int64_t num_tokens() const;
  bool empty() const { return decode.empty() && prefill.empty(); }
};

class Scheduler {
 public:
  // prefix may be null (no prefix reuse).
  Scheduler(KvCache& cache, SchedulerConfig config, PrefixReuse* prefix = nullptr);

  const SchedulerConfig& config() const { return config_; }
  // Blocks a sequence of `tokens` tokens may need in a layer group at most (the admission bound).
  int64_t max_blocks_needed(int32_t group, int64_t tokens) const;
  // Whether a sequence that grows to `total_tokens` fits in the empty pool (else it could never run).
  bool fits_pool(int64_t total_tokens) const;

  // A new sequence (status waiting) at the back of the queue.
  void add_waiting(Sequence* seq);
  // A sequence forked from a running one (it shares the parent's blocks in the cache already).
  void add_running(Sequence* seq);
  // Release a finished sequence's blocks (it must be running).
  void finish(Sequence* seq);

  ScheduledStep schedule();

  const std::vector<Sequence*>& running() const { return running_; }
  const std::deque<Sequence*>& waiting() const { return waiting_; }
  int64_t num_preemptions() const { return num_preemptions_; }

 private:
  // Blocks per group that `seq` (running) still needs to finish its prefill.
  void add_reservation(const Sequence& seq, std::vector<int64_t>& need) const;
  // Blocks per group to admit `seq` with `cached_tokens` of it already in (prefix) cache.
  void add_admission_need(const Sequence& seq, int64_t cached_tokens, std::vector<int64_t>& need) const;
  bool fits(const std::vector<int64_t>& need) const;
  void preempt(Sequence* seq, ScheduledStep& step);
  void insert_waiting(Sequence* seq);  // keeps the queue ordered by age

  KvCache& cache_;
  SchedulerConfig config_;
  PrefixReuse* prefix_;
  std::vector<Sequence*> running_;   // admission order
  std::deque<Sequence*> waiting_;    // oldest first
  int64_t num_preemptions_ = 0;
};

}  // namespace pagedkv
