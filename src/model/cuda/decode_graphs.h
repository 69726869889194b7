#pragma once
// DecodeGraphs: decode steps replayed from CUDA graphs. A decode step of a dense model is ~10
// kernels per layer whose launches cost more host time than a small batch's GPU time; one graph
// launch replaces them. Graphs are keyed by the padded batch (the rows are padded up to a bucket,
// so a handful of graphs serve every batch size) and by each layer group's length bucket (which
// fixes the decode kernel's plan); prefill stays eager.
//
// A graph bakes in every device address it touched: the caller clears the set whenever one of
// them moves (activations regrown, step metadata relaid, another KV pool).

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <vector>

namespace pagedkv::cuda {

class DecodeGraphs {
 public:
  DecodeGraphs() = default;
  ~DecodeGraphs();
  DecodeGraphs(const DecodeGraphs&) = delete;
  DecodeGraphs& operator=(const DecodeGraphs&) = delete;

  // The bucket `rows` decode rows are padded to: 1, 2, 4, 8, then multiples of 8 to 64, of 16 to
  // 128, of 32 to 256, of 64 to 512. 0 above 512 (such a step runs eagerly).
  static int32_t padded_batch(int64_t rows);

  // Runs `enqueue` (which only enqueues work on `stream`) for `key`: eagerly the first time the
  // key is seen, so every lazily made plan (GEMM algorithms, decode workspaces) exists before a
  // capture; captured into a graph and launched the second time; replayed from then on.
  void run(const std::vector<int64_t>& key, cudaStream_t stream,
           const std::function<void()>& enqueue);

  void clear();
  size_t num_graphs() const { return graphs_.size(); }
  int64_t replays() const { return replays_; }

 private:
  std::map<std::vector<int64_t>, cudaGraphExec_t> graphs_;
  std::set<std::vector<int64_t>> warmed_;
  int64_t replays_ = 0;
};

}  // namespace pagedkv::cuda
