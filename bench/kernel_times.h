#pragma once
// KernelTimes: the GPU time of every kernel that runs in a window of a benchmark, from CUPTI's
// activity records (device timestamps; kernels replayed from CUDA graphs are reported node by
// node). Made before the first CUDA work, so that graphs captured later are traced too; records
// outside [begin(), end()] are dropped. Used by pagedkv_cuda_model_bench --kernel-times for the
// decode step's breakdown (bench/hf_compare.py --breakdown): one CUPTI activity buffer costs a
// few percent of step time, so the step itself is timed in a run without it.

#include <cstdint>
#include <map>
#include <string>

namespace pagedkv {

class KernelTimes {
 public:
  struct Sum {
    double ns = 0;
    int64_t count = 0;
  };
  KernelTimes();  // Error(Unsupported) when CUPTI cannot trace kernels here
  ~KernelTimes();
  KernelTimes(const KernelTimes&) = delete;
  KernelTimes& operator=(const KernelTimes&) = delete;

  void begin();  // the window opens (after the device is idle)
  // The window closes (call after the device is idle); returns the kernels in it by name, and
  // in *busy_ns the time at least one of them was running (overlaps counted once).
  std::map<std::string, Sum> end(double* busy_ns);
};

}  // namespace pagedkv
