#pragma once
// dev/cuda_emu: what a launch needs from the emulator (run one CTA, mode, global memory ranges,
// stream capture).
#include <cstdint>
#include <functional>
#include <cuda_runtime_api.h>
namespace emu {
void set_mode(int early, unsigned seed);
void run_cta(uint3 block, dim3 grid, dim3 blockdim, uint8_t* smem, size_t smem_bytes,
             const std::function<void()>& body);
void register_global(const void* p, size_t bytes);
void unregister_global(const void* p);
}  // namespace emu
namespace emu {
// Stream capture: launches during a capture are recorded, replayed by cudaGraphLaunch.
bool capturing();
void record(std::function<void()> job);
}  // namespace emu
