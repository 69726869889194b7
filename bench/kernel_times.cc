#include "kernel_times.h"

#include <cupti.h>
#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <utility>
#include <vector>

#include "core/error.h"

namespace pagedkv {

namespace {

struct Record {
  uint64_t start, end;
  std::string name;
};

std::mutex g_mu;
std::vector<Record> g_records;  // CUPTI calls back from its own thread
bool g_live = false;

void check(CUptiResult r, const char* what) {
  if (r == CUPTI_SUCCESS) return;
  const char* msg = nullptr;
  cuptiGetResultString(r, &msg);
  fail(ErrorKind::kUnsupported, str_cat("CUPTI ", what, ": ", msg ? msg : "?"));
}

constexpr size_t kBufferBytes = size_t(8) << 20;

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, kBufferBytes));
  *size = kBufferBytes;
  *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
  CUpti_Activity* r = nullptr;
  std::vector<Record> got;
  while (cuptiActivityGetNextRecord(buffer, valid, &r) == CUPTI_SUCCESS) {
    if (r->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) continue;
    const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(r);
    got.push_back({k->start, k->end, k->name ? k->name : "?"});
  }
  std::free(buffer);
  const std::lock_guard<std::mutex> lock(g_mu);
  for (Record& x : got) g_records.push_back(std::move(x));
}

std::string demangled(const char* name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && d ? d : name;
  std::free(d);
  return out;
}

uint64_t now() {
  uint64_t t = 0;
  check(cuptiGetTimestamp(&t), "timestamp");
  return t;
}

uint64_t g_begin = 0;

}  // namespace

KernelTimes::KernelTimes() {
  PKV_CHECK(!g_live, InvalidArgument, "KernelTimes: one at a time");
  check(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed), "register");
  check(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL), "enable kernels");
  g_live = true;
}

KernelTimes::~KernelTimes() {
  cuptiActivityDisable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
  cuptiActivityFlushAll(1);
  g_live = false;
}

void KernelTimes::begin() {
  check(cuptiActivityFlushAll(1), "flush");
  const std::lock_guard<std::mutex> lock(g_mu);
  g_records.clear();
  g_begin = now();
}

std::map<std::string, KernelTimes::Sum> KernelTimes::end(double* busy_ns) {
  const uint64_t stop = now();
  check(cuptiActivityFlushAll(1), "flush");
  std::vector<Record> in;
  {
    const std::lock_guard<std::mutex> lock(g_mu);
    for (Record& r : g_records)
      if (r.start >= g_begin && r.end <= stop) in.push_back(std::move(r));
    g_records.clear();
  }
  std::map<std::string, Sum> by_name;
  for (const Record& r : in) {
    Sum& s = by_name[demangled(r.name.c_str())];
    s.ns += double(r.end - r.start);
    ++s.count;
  }
  // Busy time: the union of the kernels' intervals.
  std::sort(in.begin(), in.end(),
            [](const Record& a, const Record& b) { return a.start < b.start; });
  double busy = 0;
  uint64_t cur_start = 0, cur_end = 0;
  bool open = false;
  for (const Record& r : in) {
    if (open && r.start <= cur_end) {
      cur_end = std::max(cur_end, r.end);
      continue;
    }
    if (open) busy += double(cur_end - cur_start);
    cur_start = r.start;
    cur_end = r.end;
    open = true;
  }
  if (open) busy += double(cur_end - cur_start);
  if (busy_ns) *busy_ns = busy;
  return by_name;
}

}  // namespace pagedkv
