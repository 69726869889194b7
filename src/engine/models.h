#pragma once
// Models for the front ends: a Hugging Face checkpoint directory or the built-in synthetic model,
// loaded behind the ModelRunner of the chosen device, so the CLI and the server need only the
// engine layer.

#include <memory>
#include <string>
#include <vector>

#include "engine/model_runner.h"
#include "model/attention_layer.h"
#include "model/synthetic_model.h"

namespace pagedkv {

struct ModelOptions {
  std::string device = "cpu";  // cpu, or cuda (bf16 weights on the GPU; needs a CUDA build + GPU)
  DecodeKernel decode_kernel = DecodeKernel::kAuto;  // CPU decode attention (tests, benchmarks)
  // A request's tokens independent of its batch, at a cost in speed. cuda:
  // CausalLmCuda::set_batch_invariant. cpu: decode attention through the paged prefill kernel
  // (DecodeKernel::kPagedPrefill), whose arithmetic for a sequence depends on that sequence alone;
  // the fused kernel's split follows the batch size beyond 256 visible tokens (docs/engine.md).
  // The CPU's matrix products are per row already. Error(InvalidArgument) with another kernel.
  bool batch_invariant = false;
};

// Error(InvalidArgument) naming an unknown device, Error(Unsupported) when cuda is asked of a
// build or machine without it; the checkpoint's own errors otherwise.
std::unique_ptr<ModelRunner> load_model(const std::string& dir, const ModelOptions& options = {});
std::unique_ptr<ModelRunner> load_synthetic_model(const SyntheticModelSpec& spec,
                                                  const ModelOptions& options = {});

// The synthetic model's greedy tokens from model/reference_forward.h: a dense forward that shares
// no code with the engine, its KV pool or its kernels (the demo checks the engine against it).
std::vector<int32_t> synthetic_reference_greedy(const SyntheticModelSpec& spec,
                                                const std::vector<int32_t>& prompt,
                                                int32_t max_new_tokens);

// "auto", "fused", "gather", "prefill" (Error(InvalidArgument) naming the choices otherwise).
DecodeKernel parse_decode_kernel(const std::string& name);

}  // namespace pagedkv
