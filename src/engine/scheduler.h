#pragma once
// Scheduler: continuous batching over one KvCache (vLLM v1 / nano-vllm style).
//
// Every step mixes, under a token budget (max_num_batched_tokens):
//   1. one decode token for every running sequence whose prefill is done;
//   2. the next chunk of every running sequence still prefilling (chunked prefill);
//   3. newly admitted sequences' first chunks, FCFS from the waiting queue.
//
// Memory is checked before anything is touched (check-then-act), per layer group:
//   - Admission is all or nothing: KvCache::add_prompt takes the blocks of the sequence's whole
//     prefill at once — cached blocks from the prefix cache (whose tokens are then not
//     recomputed) plus fresh ones for the rest — and only if the pool can hand out all of them
//     after this step's decode needs. Chunks of an admitted prompt therefore never run out.
//   - Decode needs <= 1 block per sequence (a new tail block or a copy-on-write of a shared tail).
//     When those exceed what the pool can hand out, the newest request is preempted: its blocks
//     are released (full blocks stay in the prefix cache, free and evictable) and its sequences
//     go back to the front of the waiting queue, to be recomputed from their tokens — prompt and
//     everything generated so far — when memory allows. If it is the only request left, its
//     newest sample goes alone. The oldest sequence therefore always makes progress.
// A waiting prompt that shares full blocks with a prompt still being prefilled waits until those
// blocks are published, so concurrent requests with one system prompt hold one copy of it.

#include <cstdint>
#include <deque>
#include <vector>

#include "engine/sequence.h"
#include "kv/kv_cache.h"

namespace pagedkv {

struct SchedulerConfig {
  int32_t max_num_batched_tokens = 256;  // decode tokens + prefill chunk tokens per step
  int32_t max_num_seqs = 64;             // running sequences (decode batch size cap)
  void validate() const;
};

struct PrefillChunk {
  Sequence* seq = nullptr;
  int64_t start = 0;  // first token index (== seq->num_cached when scheduled)
  int64_t len = 0;
};

struct ScheduledStep {
  std::vector<Sequence*> decode;      // one token each: tokens.back()
  std::vector<PrefillChunk> prefill;  // in running order
  std::vector<Sequence*> preempted;   // sent back to waiting while scheduling this step
  int64_t num_tokens() const;
  bool empty() const { return decode.empty() && prefill.empty(); }
};

class Scheduler {
 public:
  Scheduler(KvCache& cache, SchedulerConfig config);

  const SchedulerConfig& config() const { return config_; }

  // A new sequence (status waiting), queued by age.
  void add_waiting(Sequence* seq);
  // A sequence forked from a running one (it already shares the parent's blocks in the cache).
  void add_running(Sequence* seq);
  // Release a finished sequence's blocks (it must be running).
  void finish(Sequence* seq);
  // Take a running or waiting sequence out (an aborted request): blocks released, status
  // finished.
  void remove(Sequence* seq);

  ScheduledStep schedule();

  const std::vector<Sequence*>& running() const { return running_; }
  const std::deque<Sequence*>& waiting() const { return waiting_; }
  int64_t num_preemptions() const { return num_preemptions_; }

 private:
  bool try_admit(Sequence* seq, std::vector<int64_t>& reserved);
  // Blocks the decode tokens of the running sequences past their prefill need ([group]).
  std::vector<int64_t> decode_need() const;
  // Whether a running, still-prefilling sequence shares more full blocks with seq's prompt than
  // the prefix cache holds now (they will be published when its prefill completes).
  bool prefix_pending(const Sequence& seq, int64_t hit_tokens) const;
  void preempt(Sequence* seq, ScheduledStep& step);
  void insert_waiting(Sequence* seq);  // keeps the queue ordered by age

  KvCache& cache_;
  SchedulerConfig config_;
  std::vector<Sequence*> running_;  // admission order
  std::deque<Sequence*> waiting_;   // oldest first
  int64_t num_preemptions_ = 0;
};

}  // namespace pagedkv
