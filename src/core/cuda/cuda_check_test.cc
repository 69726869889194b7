// cuda_check's error kinds and messages, and DeviceBuffer's ownership; no GPU needed (CUDA
// statuses are passed in, and an empty buffer allocates nothing).

#include "core/cuda/cuda_check.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "core/cuda/device_buffer.h"

namespace pagedkv {
namespace {

ErrorKind kind_of(cudaError_t err) {
  try {
    cuda_check(err, "cudaSomething(", 42, ")");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cudaSomething(42): "), std::string::npos) << e.what();
    return e.kind();
  }
  ADD_FAILURE() << "no error thrown for status " << int(err);
  return ErrorKind::kInvalidArgument;
}

TEST(CudaCheck, SuccessDoesNotThrow) { EXPECT_NO_THROW(cuda_check(cudaSuccess, "cudaMemcpy")); }

TEST(CudaCheck, AllocationFailureIsOutOfMemory) {
  EXPECT_EQ(kind_of(cudaErrorMemoryAllocation), ErrorKind::kOutOfMemory);
}

TEST(CudaCheck, OtherErrorsAreInternal) {
  EXPECT_EQ(kind_of(cudaErrorInvalidValue), ErrorKind::kInternal);
  EXPECT_EQ(kind_of(cudaErrorLaunchFailure), ErrorKind::kInternal);
  EXPECT_EQ(kind_of(cudaErrorNoDevice), ErrorKind::kInternal);
}

TEST(DeviceBuffer, EmptyBufferOwnsNothingAndMoves) {
  DeviceBuffer a(0);
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.bytes(), 0u);
  DeviceBuffer b = std::move(a);
  EXPECT_EQ(b.data(), nullptr);
}

}  // namespace
}  // namespace pagedkv
