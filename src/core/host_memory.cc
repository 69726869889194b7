#include "core/host_memory.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "core/error.h"

namespace pagedkv {

namespace {

// Fields of /proc/self/statm in bytes: total program size (what RLIMIT_AS counts) and data +
// stack (what RLIMIT_DATA counts, roughly). 0 when unreadable.
void current_usage(int64_t* virtual_bytes, int64_t* data_bytes) {
  *virtual_bytes = *data_bytes = 0;
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return;
  long long size = 0, resident = 0, shared = 0, text = 0, lib = 0, data = 0;
  if (std::fscanf(f, "%lld %lld %lld %lld %lld %lld", &size, &resident, &shared, &text, &lib,
                  &data) == 6) {
    const int64_t page = int64_t(::sysconf(_SC_PAGESIZE));
    *virtual_bytes = int64_t(size) * page;
    *data_bytes = int64_t(data) * page;
  }
  std::fclose(f);
}

int64_t left_under(int resource, int64_t used) {
  rlimit lim{};
  if (::getrlimit(resource, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY)
    return std::numeric_limits<int64_t>::max();
  const uint64_t cap = std::min<uint64_t>(lim.rlim_cur, uint64_t(INT64_MAX));
  return std::max<int64_t>(0, int64_t(cap) - used);
}

}  // namespace

int64_t host_memory_available() {
  const int64_t pages = int64_t(::sysconf(_SC_PHYS_PAGES));
  const int64_t page = int64_t(::sysconf(_SC_PAGESIZE));
  int64_t avail = pages > 0 && page > 0 ? pages * page : std::numeric_limits<int64_t>::max();
  int64_t vm = 0, data = 0;
  current_usage(&vm, &data);
  avail = std::min(avail, left_under(RLIMIT_AS, vm));
  avail = std::min(avail, left_under(RLIMIT_DATA, data));
  return avail;
}

void check_host_allocation(int64_t bytes, std::string_view what) {
  const int64_t avail = host_memory_available();
  constexpr double kGiB = double(int64_t(1) << 30);
  PKV_CHECK(bytes <= avail, OutOfMemory, what, " needs ", bytes, " bytes (", double(bytes) / kGiB,
            " GiB); this process can get at most ", double(avail) / kGiB,
            " GiB (physical memory, ulimit -v / -d)");
}

}  // namespace pagedkv
