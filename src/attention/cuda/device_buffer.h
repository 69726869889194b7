#pragma once
// A move-only cudaMalloc'd byte buffer (tests, benchmarks, device storage helpers).

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include <cuda_runtime_api.h>

#include "core/error.h"

namespace pagedkv {

inline void cuda_check(cudaError_t err, const char* what) {
  PKV_CHECK(err == cudaSuccess, Internal, what, ": ", cudaGetErrorString(err));
}

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    if (bytes == 0) return;
    const cudaError_t err = cudaMalloc(&data_, bytes);
    PKV_CHECK(err == cudaSuccess, OutOfMemory, "cudaMalloc(", bytes, "): ",
              cudaGetErrorString(err));
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
  template <typename T> T* as() const { return static_cast<T*>(data_); }
  size_t bytes() const { return bytes_; }

  static DeviceBuffer from_host(const void* src, size_t bytes) {
    DeviceBuffer b(bytes);
    if (bytes) cuda_check(cudaMemcpy(b.data_, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy H2D");
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
