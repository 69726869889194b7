#pragma once
// How much more memory this process can get, checked before a large allocation (the KV pool) so
// that an impossible size is a clear error naming what asked for it, not a bad_alloc (or the OOM
// killer) after part of it was committed.

#include <cstdint>
#include <string_view>

namespace pagedkv {

// An upper bound on what the process may still allocate: the machine's physical memory, lowered
// by an address-space or data limit (ulimit -v / -d: RLIMIT_AS, RLIMIT_DATA) to what the limit
// leaves above the current mappings. Not a promise: other processes use memory too.
int64_t host_memory_available();

// Error(OutOfMemory) "<what> needs N bytes (X GiB); this process can get at most Y GiB" when
// bytes exceeds host_memory_available().
void check_host_allocation(int64_t bytes, std::string_view what);

}  // namespace pagedkv
