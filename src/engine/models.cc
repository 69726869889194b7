#include "engine/models.h"

#include "core/error.h"
#include "engine/cpu_model_runner.h"

namespace pagedkv {

namespace {

void check_device(const ModelOptions& o) {
  PKV_CHECK(o.device == "cpu", InvalidArgument, "device '", o.device, "' is not one of: cpu");
}

std::unique_ptr<ModelRunner> make_runner(CausalLm model, const ModelOptions& o) {
  model.set_decode_kernel(o.decode_kernel);
  return std::make_unique<CpuModelRunner>(std::move(model));
}

}  // namespace

std::unique_ptr<ModelRunner> load_model(const std::string& dir, const ModelOptions& options) {
  check_device(options);  // before the (possibly long) load
  return make_runner(CausalLm::load(dir), options);
}

std::unique_ptr<ModelRunner> load_synthetic_model(const SyntheticModelSpec& spec,
                                                  const ModelOptions& options) {
  check_device(options);
  return make_runner(make_synthetic_model(spec), options);
}

DecodeKernel parse_decode_kernel(const std::string& name) {
  if (name == "auto") return DecodeKernel::kAuto;
  if (name == "fused") return DecodeKernel::kFusedPaged;
  if (name == "gather") return DecodeKernel::kGather;
  if (name == "prefill") return DecodeKernel::kPagedPrefill;
  fail(ErrorKind::kInvalidArgument,
       str_cat("decode kernel '", name, "' is not one of auto, fused, gather, prefill"));
}

}  // namespace pagedkv
