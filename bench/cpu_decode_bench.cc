// CPU decode attention benchmark (issue 3): dense (no paging), gather-then-dense and fused paged
// over bf16 KV with block size 16, plus the machine's memcpy bandwidth measured in the same run.
//
// Effective bandwidth = K+V bytes the step must read (B * L * Hkv * D * 2 bytes * 2) / time.
// memcpy bandwidth = bytes copied / time (each byte read once and written once), measured in
// every iteration next to the kernels.
//
// One pool serves every implementation of a configuration, so only one KV-sized allocation is
// live (gather adds its workspace). Dense reads the pool as per-sequence contiguous [L, Hkv, D]
// buffers (sequence b owns blocks [b * L/16, (b + 1) * L/16)); paged reads the same pool through
// a randomly shuffled block table, the worst case for locality.
// Configurations whose footprint would exceed kMaxBytes are skipped (2-core, 24 GB shared VM).

#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <numeric>
#include <random>
#include <vector>

#include "attention/decode_gather.h"
#include "attention/dense_decode_cpu.h"
#include "attention/paged_decode_cpu.h"
#include "core/aligned_buffer.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace pagedkv {
namespace {

constexpr int32_t kBlock = 16;
constexpr int32_t kHeadDim = 128;
constexpr size_t kMaxBytes = size_t(17) << 29;  // 8.5 GiB: KV + gather workspace + copy buffers

// Fills n bf16 values with cheap pseudo-random non-zero numbers in ±[2^-7, 1), in parallel.
void fill_bf16(uint16_t* p, size_t n, uint64_t seed) {
  ThreadPool& pool = ThreadPool::global();
  const size_t parts = 64;
  pool.parallel_for(parts, [&](size_t part) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + part + 1;
    const size_t lo = n * part / parts, hi = n * (part + 1) / parts;
    for (size_t i = lo; i < hi; ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      p[i] = uint16_t(((x >> 20) & 1) << 15 | (120 + (x >> 8) % 7) << 7 | (x & 0x7f));
    }
  });
}

// madvise needs a page-aligned range: advise the whole pages inside the buffer.
void advise_huge_pages(AlignedBuffer& buf) {
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(buf.data()) + 4095) & ~uintptr_t(4095);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(buf.data()) + buf.bytes()) & ~uintptr_t(4095);
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

struct Problem {
  int32_t hq = 0, hkv = 0, batch = 0, len = 0;
  AlignedBuffer k, v;      // [B * L / 16, 16, Hkv, D] bf16 each
  AlignedBuffer q, out;    // [B, Hq, D] bf16
  std::vector<float> lse;  // [B, Hq]
  std::vector<int32_t> indptr, shuffled, identity, first_offset, visible_len;
  std::vector<const void*> seq_k, seq_v;  // dense view: [L, Hkv, D] per sequence
  DecodeGatherWorkspace gather_ws;

  size_t kv_bytes() const { return size_t(batch) * len * hkv * kHeadDim * 2 * 2; }

  DecodeParams paged(bool shuffled_table = true) {
    DecodeParams p;
    p.q = q.data();
    p.q_dtype = DType::kBF16;
    p.num_q_heads = hq;
    p.kv = make_nhd_view(k.data(), v.data(), DType::kBF16, batch * len / kBlock, kBlock, hkv,
                         kHeadDim);
    p.pages = {indptr.data(), shuffled_table ? shuffled.data() : identity.data(),
               first_offset.data(), visible_len.data(), batch};
    p.scale = 1.0f / std::sqrt(float(kHeadDim));
    p.out = out.data();
    p.lse = lse.data();
    return p;
  }
  DenseDecodeParams dense() {
    DenseDecodeParams d;
    d.q = q.data();
    d.q_dtype = DType::kBF16;
    d.num_q_heads = hq;
    d.k = seq_k.data();
    d.v = seq_v.data();
    d.kv_dtype = DType::kBF16;
    d.num_kv_heads = hkv;
    d.head_dim = kHeadDim;
    d.seq_len = visible_len.data();
    d.batch_size = batch;
    d.scale = 1.0f / std::sqrt(float(kHeadDim));
    d.out = out.data();
    d.lse = lse.data();
    return d;
  }
};

// The problem of the configuration being measured; rebuilt when the configuration changes so
// that only one pool is alive at a time.
Problem& problem_for(int32_t hq, int32_t hkv, int32_t batch, int32_t len) {
  static Problem pr;
  if (pr.hq == hq && pr.hkv == hkv && pr.batch == batch && pr.len == len) return pr;
  pr = Problem();
  pr.hq = hq;
  pr.hkv = hkv;
  pr.batch = batch;
  pr.len = len;
  const int32_t blocks_per_seq = len / kBlock, num_blocks = batch * blocks_per_seq;
  const size_t pool_elems = size_t(num_blocks) * kBlock * hkv * kHeadDim;
  pr.k = AlignedBuffer(pool_elems * 2);
  pr.v = AlignedBuffer(pool_elems * 2);
  // A KV pool is one long-lived allocation: back it with transparent huge pages (the machine's
  // THP mode is madvise) so TLB misses do not dominate when blocks are scattered.
  advise_huge_pages(pr.k);
  advise_huge_pages(pr.v);
  fill_bf16(pr.k.as<uint16_t>(), pool_elems, 1);
  fill_bf16(pr.v.as<uint16_t>(), pool_elems, 2);
  pr.q = AlignedBuffer(size_t(batch) * hq * kHeadDim * 2);
  pr.out = AlignedBuffer(size_t(batch) * hq * kHeadDim * 2);
  fill_bf16(pr.q.as<uint16_t>(), size_t(batch) * hq * kHeadDim, 3);
  pr.lse.assign(size_t(batch) * hq, 0.f);
  pr.indptr.resize(batch + 1);
  for (int32_t b = 0; b <= batch; ++b) pr.indptr[b] = b * blocks_per_seq;
  pr.identity.resize(num_blocks);
  std::iota(pr.identity.begin(), pr.identity.end(), 0);
  pr.shuffled = pr.identity;
  std::mt19937_64 gen(42);
  std::shuffle(pr.shuffled.begin(), pr.shuffled.end(), gen);
  pr.first_offset.assign(batch, 0);
  pr.visible_len.assign(batch, len);
  const size_t seq_bytes = size_t(len) * hkv * kHeadDim * 2;
  for (int32_t b = 0; b < batch; ++b) {
    pr.seq_k.push_back(pr.k.as<uint8_t>() + b * seq_bytes);
    pr.seq_v.push_back(pr.v.as<uint8_t>() + b * seq_bytes);
  }
  return pr;
}

enum Impl { kDense = 0, kGather = 1, kPaged = 2, kPagedIdentity = 3, kNumImpls = 4 };
const char* const kImplNames[kNumImpls] = {"dense", "gather", "paged", "paged_identity"};

// A buffer pair far larger than the LLC for the interleaved memcpy measurement.
struct CopyBuffers {
  AlignedBuffer src, dst;
  explicit CopyBuffers(size_t n) : src(n), dst(n) {
    std::memset(src.data(), 1, n);
    std::memset(dst.data(), 2, n);
  }
};

// memcpy split across the same thread pool the kernels use.
void parallel_memcpy(CopyBuffers& c) {
  ThreadPool& pool = ThreadPool::global();
  const size_t n = c.src.bytes(), parts = pool.num_threads();
  pool.parallel_for(parts, [&](size_t i) {
    const size_t lo = n * i / parts, hi = n * (i + 1) / parts;
    std::memcpy(c.dst.as<uint8_t>() + lo, c.src.as<uint8_t>() + lo, hi - lo);
  });
}

double seconds_of(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One benchmark per configuration. Each iteration runs every implementation once, back to back,
// and a memcpy of kCopyBytes: on a shared machine the load drifts, and interleaving exposes all
// of them to the same conditions. Counters use each one's fastest run (least disturbed).
// The reported time is one iteration (all implementations + memcpy); read the counters.
constexpr size_t kCopyBytes = size_t(256) << 20;  // 8x the 32 MiB L3

void BM_Decode(benchmark::State& state) {
  const int32_t hq = int32_t(state.range(0)), hkv = int32_t(state.range(1));
  const int32_t batch = int32_t(state.range(2)), len = int32_t(state.range(3));
  const size_t kv = size_t(batch) * len * hkv * kHeadDim * 4;
  if (kv + 2 * kCopyBytes > kMaxBytes) {
    state.SkipWithError("skipped: KV above the benchmark's memory cap");
    for (auto _ : state) {
    }
    return;
  }
  const bool run_gather = 2 * kv + 2 * kCopyBytes <= kMaxBytes;
  Problem& pr = problem_for(hq, hkv, batch, len);
  static CopyBuffers copy(kCopyBytes);
  const DecodeParams shuffled = pr.paged(true), identity = pr.paged(false);
  const DenseDecodeParams d = pr.dense();
  const std::function<void()> steps[kNumImpls] = {
      [&] { dense_decode_cpu(d); },
      [&] { decode_gather(shuffled, pr.gather_ws); },
      [&] { paged_decode_cpu(shuffled); },
      [&] { paged_decode_cpu(identity); },
  };
  for (int i = 0; i < kNumImpls; ++i) {  // warm-up: workspace faulted in, pool threads awake
    if (i != kGather || run_gather) steps[i]();
  }
  double best[kNumImpls], best_copy = 1e30;
  std::fill(best, best + kNumImpls, 1e30);
  for (auto _ : state) {
    for (int i = 0; i < kNumImpls; ++i) {
      if (i == kGather && !run_gather) continue;
      best[i] = std::min(best[i], seconds_of(steps[i]));
      benchmark::DoNotOptimize(pr.out.data());
      benchmark::ClobberMemory();
    }
    best_copy = std::min(best_copy, seconds_of([&] { parallel_memcpy(copy); }));
  }
  const double bytes = double(pr.kv_bytes());
  for (int i = 0; i < kNumImpls; ++i) {
    if (i == kGather && !run_gather) continue;
    state.counters[str_cat(kImplNames[i], "_us")] = best[i] * 1e6;
    state.counters[str_cat(kImplNames[i], "_GBps")] = bytes / best[i] / 1e9;
  }
  state.counters["memcpy_GBps"] = double(kCopyBytes) / best_copy / 1e9;
  state.counters["fused_over_dense"] = best[kDense] / best[kPaged];
  state.counters["fused_over_memcpy"] = (bytes / best[kPaged]) / (double(kCopyBytes) / best_copy);
  state.counters["kv_MiB"] = bytes / (1 << 20);
}

void register_all() {
  for (auto [hq, hkv] : {std::pair{32, 8}, std::pair{32, 32}}) {
    for (int batch : {1, 16, 64}) {
      for (int len : {1024, 4096, 16384}) {
        benchmark::RegisterBenchmark("BM_Decode", BM_Decode)
            ->Args({hq, hkv, batch, len})
            ->ArgNames({"Hq", "Hkv", "B", "L"})
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
}

}  // namespace
}  // namespace pagedkv

int main(int argc, char** argv) {
  pagedkv::register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
