#pragma once
// Knobs shared by the CPU decode implementations (fused paged, dense, gather).

#include <cstdint>

namespace pagedkv {

class ThreadPool;

struct CpuDecodeOptions {
  // null: ThreadPool::global(). ThreadPool::parallel_for is not reentrant: do not call a CPU
  // decode from inside a parallel_for of the same pool.
  ThreadPool* pool = nullptr;
  // KV split (flash-decoding): each (sequence, kv head) is cut into up to max_splits pieces of at
  // least min_split_tokens, run in parallel and merged through their log-sum-exp. 0 = automatic:
  // enough pieces for ~4 work items per thread, so one long sequence still uses every core.
  // The split depends only on visible lengths and these knobs, never on block placement.
  int32_t max_splits = 0;
  int32_t min_split_tokens = 256;
};

}  // namespace pagedkv
