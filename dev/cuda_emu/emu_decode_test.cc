// The GPU-verified decode tensor-core kernels on the emulator (splits = 1): validates the
// emulator's ldmatrix / mma / cp.async semantics against kernels known to be right on H200.
#include <gtest/gtest.h>
#include <cstdlib>
#include "attention/cuda/testing/device_run.h"
namespace pagedkv {
namespace {
using testing::Case;
using testing::check_case;
TEST(EmuDecode, TileParallel) {
  uint64_t seed = 1;
  for (DType kv : {DType::kBF16, DType::kF16, DType::kFP8E4M3})
    for (int D : {64, 128, 256})
      for (int hh : {0, 1, 2}) {
        const int heads[][2] = {{4, 4}, {8, 2}, {16, 2}};
        Case c;
        c.kv = kv;
        c.q = kv == DType::kF16 ? DType::kF16 : DType::kBF16;
        c.D = D;
        c.Hq = heads[hh][0];
        c.Hkv = heads[hh][1];
        c.bs = hh == 0 ? 1 : 16;
        c.splits = 1;
        c.max_len = 150;
        c.B = 2;
        setenv("PAGEDKV_DECODE_HEADS", "0", 1);
        check_case(c, seed++);
      }
}
TEST(EmuDecode, HeadParallel) {
  uint64_t seed = 100;
  for (DType kv : {DType::kBF16, DType::kFP8E4M3}) {
    Case c;
    c.kv = kv;
    c.Hq = 8;
    c.Hkv = 4;
    c.splits = 1;
    c.max_len = 150;
    setenv("PAGEDKV_DECODE_HEADS", "1", 1);
    check_case(c, seed++);
  }
}
}  // namespace
}  // namespace pagedkv
