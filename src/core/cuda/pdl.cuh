#pragma once
// Programmatic dependent launch (Hopper and later): a kernel launched with
// launch_programmatic() may start while the kernel before it on the stream is still running. It
// can do work that does not depend on that kernel (stream its weights, say), then must call
// pdl_wait() before it reads anything the earlier kernel writes or writes anything the earlier
// kernel reads: pdl_wait() returns once the earlier kernel has finished and its writes are
// visible. pdl_launch_dependents() in the earlier kernel lets the dependent's CTAs be scheduled
// before it ends (without it they start at its end, which still hides the launch). Below sm_90
// both are no-ops and launch_programmatic() is an ordinary launch. Works inside CUDA graph
// capture (the dependency becomes a programmatic edge).

#include <cuda_runtime_api.h>

#include <utility>

namespace pagedkv::cuda {

__device__ __forceinline__ void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_launch_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

#ifdef __CUDACC__
// kernel<<<grid, block, 0, stream>>>(args...), allowed to overlap the previous kernel when
// `programmatic` (the kernel must call pdl_wait() first, as above).
template <typename... Params, typename... Args>
cudaError_t launch_programmatic(bool programmatic, void (*kernel)(Params...), dim3 grid, dim3 block,
                                cudaStream_t stream, Args&&... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = 0;
  config.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  config.attrs = attr;
  config.numAttrs = programmatic ? 1 : 0;
  return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}
#endif

}  // namespace pagedkv::cuda
