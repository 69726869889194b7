#include "model/cuda/cublaslt_api.h"

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <string>

#include "core/error.h"

namespace pagedkv::cuda {

namespace {

CublasLtApi load() {
  const std::string soname = "libcublasLt.so." + std::to_string(CUBLAS_VER_MAJOR);
  void* lib = dlopen(soname.c_str(), RTLD_NOW | RTLD_LOCAL);
  std::string why = lib ? "" : dlerror();
  if (!lib) {  // the toolkit keeps it beside the CUDA runtime this program is linked against
    Dl_info info{};
    if (dladdr(reinterpret_cast<void*>(&cudaGetDeviceCount), &info) && info.dli_fname) {
      std::string dir = info.dli_fname;
      dir = dir.substr(0, dir.find_last_of('/') + 1);
      lib = dlopen((dir + soname).c_str(), RTLD_NOW | RTLD_LOCAL);
    }
  }
  PKV_CHECK(lib != nullptr, Unsupported, "cannot load cuBLASLt (", soname, "): ", why);
  CublasLtApi api;
#define PAGEDKV_CUBLASLT_LOOKUP(name)                                \
  api.name = reinterpret_cast<decltype(&::name)>(dlsym(lib, #name)); \
  PKV_CHECK(api.name != nullptr, Unsupported, soname, " has no " #name);
  PAGEDKV_CUBLASLT_FUNCTIONS(PAGEDKV_CUBLASLT_LOOKUP)
#undef PAGEDKV_CUBLASLT_LOOKUP
  return api;  // the library stays open for the life of the process
}

}  // namespace

const CublasLtApi& cublaslt() {
  static const CublasLtApi api = load();
  return api;
}

}  // namespace pagedkv::cuda
