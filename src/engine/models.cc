#include "engine/models.h"

#include <cstdio>
#include <utility>

#include "core/error.h"
#include "engine/cpu_model_runner.h"
#include "model/reference_forward.h"
#ifdef PAGEDKV_WITH_CUDA
#include "core/cuda/cuda_check.h"
#include "engine/cuda/cuda_model_runner.h"
#endif

namespace pagedkv {

namespace {

// The --kernel names of the CPU decode kernels.
constexpr std::pair<const char*, DecodeKernel> kKernelNames[] = {
    {"auto", DecodeKernel::kAuto},
    {"fused", DecodeKernel::kFusedPaged},
    {"gather", DecodeKernel::kGather},
    {"prefill", DecodeKernel::kPagedPrefill}};

const char* kernel_name(DecodeKernel k) {
  for (const auto& [name, kernel] : kKernelNames)
    if (kernel == k) return name;
  return "?";
}

// Checked before a (possibly long) load.
void check_device(const ModelOptions& o) {
  PKV_CHECK(o.device == "cpu" || o.device == "cuda", InvalidArgument, "device '", o.device,
            "' is not one of: cpu, cuda");
  PKV_CHECK(!o.batch_invariant || o.decode_kernel == DecodeKernel::kAuto ||
                o.decode_kernel == DecodeKernel::kPagedPrefill,
            InvalidArgument, "--batch-invariant decodes with the prefill kernel; --kernel ",
            kernel_name(o.decode_kernel), " would make a sequence's logits depend on its batch");
#ifdef PAGEDKV_WITH_CUDA
  PKV_CHECK(o.device == "cpu" || cuda_device_available(), Unsupported,
            "device cuda: no CUDA GPU is present (or its driver cannot be used)");
#else
  PKV_CHECK(o.device == "cpu", Unsupported,
            "device cuda: this build has no CUDA support (nvcc was not found when it was "
            "configured)");
#endif
}

#ifdef PAGEDKV_WITH_CUDA
std::unique_ptr<ModelRunner> make_runner(CausalLmCuda model, const ModelOptions& o) {
  if (o.batch_invariant) model.set_batch_invariant(true);  // else as PAGEDKV_BATCH_INVARIANT says
  return std::make_unique<CudaModelRunner>(std::move(model));
}
#endif

std::unique_ptr<ModelRunner> make_runner(CausalLm model, const ModelOptions& o) {
  model.set_decode_kernel(o.batch_invariant ? DecodeKernel::kPagedPrefill : o.decode_kernel);
  return std::make_unique<CpuModelRunner>(std::move(model));
}

#ifdef PAGEDKV_WITH_CUDA
// Loading a large checkpoint takes a while: show progress on stderr when it does.
void show_progress(int64_t done, int64_t total) {
  static int last = -1;
  const int pct = total > 0 ? int(100 * done / total) : 100;
  if (total < (int64_t(1) << 30) || pct / 5 == last / 5) return;
  last = pct;
  std::fprintf(stderr, "\rloading weights to the GPU: %3d%% of %.1f GB", pct, double(total) / 1e9);
  if (done == total) std::fprintf(stderr, "\n");
}
#endif

}  // namespace

std::unique_ptr<ModelRunner> load_model(const std::string& dir, const ModelOptions& options) {
  check_device(options);  // before the (possibly long) load
#ifdef PAGEDKV_WITH_CUDA
  if (options.device == "cuda")
    return make_runner(CausalLmCuda::load(dir, "config.json", show_progress), options);
#endif
  return make_runner(CausalLm::load(dir), options);
}

std::unique_ptr<ModelRunner> load_synthetic_model(const SyntheticModelSpec& spec,
                                                  const ModelOptions& options) {
  check_device(options);
#ifdef PAGEDKV_WITH_CUDA
  if (options.device == "cuda")
    return make_runner(CausalLmCuda::random(synthetic_model_config(spec), spec.seed), options);
#endif
  return make_runner(make_synthetic_model(spec), options);
}

std::vector<int32_t> synthetic_reference_greedy(const SyntheticModelSpec& spec,
                                                const std::vector<int32_t>& prompt,
                                                int32_t max_new_tokens) {
  const CausalLm model = make_synthetic_model(spec);
  return reference_greedy(model.config(), model.weights(), prompt, max_new_tokens);
}

DecodeKernel parse_decode_kernel(const std::string& name) {
  for (const auto& [known, kernel] : kKernelNames)
    if (name == known) return kernel;
  fail(ErrorKind::kInvalidArgument,
       str_cat("decode kernel '", name, "' is not one of auto, fused, gather, prefill"));
}

}  // namespace pagedkv
