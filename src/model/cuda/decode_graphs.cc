#include "model/cuda/decode_graphs.h"

#include "core/cuda/cuda_check.h"

namespace pagedkv::cuda {

DecodeGraphs::~DecodeGraphs() { clear(); }

int32_t DecodeGraphs::padded_batch(int64_t rows) {
  if (rows <= 0 || rows > 512) return 0;
  if (rows <= 8) {
    int32_t p = 1;
    while (p < rows) p *= 2;
    return p;
  }
  const int64_t step = rows <= 64 ? 8 : rows <= 128 ? 16 : rows <= 256 ? 32 : 64;
  return int32_t((rows + step - 1) / step * step);
}

void DecodeGraphs::clear() {
  for (auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);
  graphs_.clear();
  warmed_.clear();
}

void DecodeGraphs::run(const std::vector<int64_t>& key, cudaStream_t stream,
                       const std::function<void()>& enqueue) {
  if (const auto it = graphs_.find(key); it != graphs_.end()) {
    cuda_check(cudaGraphLaunch(it->second, stream), "replaying a decode graph");
    ++replays_;
    return;
  }
  if (warmed_.insert(key).second) {
    enqueue();
    return;
  }
  cudaGraph_t graph = nullptr;
  cuda_check(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal),
             "capturing a decode graph");
  try {
    enqueue();
  } catch (...) {
    cudaStreamEndCapture(stream, &graph);  // ends the capture; the partial graph is dropped
    if (graph) cudaGraphDestroy(graph);
    throw;
  }
  cuda_check(cudaStreamEndCapture(stream, &graph), "capturing a decode graph");
  cudaGraphExec_t exec = nullptr;
  const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  cuda_check(made, "instantiating a decode graph");
  graphs_.emplace(key, exec);
  cuda_check(cudaGraphLaunch(exec, stream), "launching a decode graph");
  ++replays_;
}

}  // namespace pagedkv::cuda
