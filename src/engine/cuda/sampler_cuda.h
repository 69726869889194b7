#pragma once
// The GPU sampler: one token per row of device logits, drawn as sample_counter
// (engine/counter_sampler.h) draws it, so only B token ids cross to the host per decode step,
// never B x V logits. One CTA per row; every reduction runs in a fixed order, so a row's token is
// the same run after run. Rows whose logits hold a NaN or +inf get -1.

#include <cuda_runtime_api.h>

#include <cstdint>
#include <span>
#include <vector>

#include "core/cuda/device_buffer.h"
#include "engine/counter_sampler.h"

namespace pagedkv::cuda {

class SamplerCuda {
 public:
  SamplerCuda() = default;
  ~SamplerCuda();
  SamplerCuda(const SamplerCuda&) = delete;
  SamplerCuda& operator=(const SamplerCuda&) = delete;

  // logits: device f32 [draws.size(), vocab] (row stride vocab), ready on `stream` (the work is
  // queued behind it). Returns the tokens; waits for the stream.
  std::vector<int32_t> sample(const float* logits, int64_t vocab,
                              std::span<const CounterDraw> draws, cudaStream_t stream);

 private:
  DeviceBuffer draws_;   // CounterDraw [capacity]
  DeviceBuffer tokens_;  // int32 [capacity]
  void* pinned_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace pagedkv::cuda
