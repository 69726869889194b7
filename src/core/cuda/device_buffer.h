#pragma once
// DeviceBuffer: a move-only cudaMalloc'd byte buffer (device KV storage, tests, benchmarks).

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>
#include <vector>

#include "core/cuda/cuda_check.h"

namespace pagedkv {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // Allocates `bytes` on the current device (none for 0). An allocation failure throws
  // Error(OutOfMemory) whose message starts with `owner` (what the memory was for).
  explicit DeviceBuffer(size_t bytes, const char* owner = "DeviceBuffer") : bytes_(bytes) {
    if (bytes > 0) cuda_check(cudaMalloc(&data_, bytes), owner, ": cudaMalloc(", bytes, " bytes)");
  }
  ~DeviceBuffer() {
    if (data_) cudaFree(data_);
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t bytes() const { return bytes_; }

  static DeviceBuffer from_host(const void* src, size_t bytes) {
    DeviceBuffer b(bytes);
    if (bytes)
      cuda_check(cudaMemcpy(b.data_, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
    return b;
  }
  template <typename T>
  static DeviceBuffer from_vector(const std::vector<T>& v) {
    return from_host(v.data(), v.size() * sizeof(T));
  }
  void to_host(void* dst, size_t bytes) const {
    cuda_check(cudaMemcpy(dst, data_, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
  }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace pagedkv
