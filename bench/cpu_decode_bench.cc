// CPU decode attention benchmark (issue 3): dense (no paging), gather-then-dense and fused paged
// over bf16 KV with block size 16, plus the machine's memcpy bandwidth measured in the same run.
//
// Effective bandwidth = K+V bytes the step must read (B * L * Hkv * D * 2 bytes * 2) / time,
// reported by Google Benchmark as bytes_per_second. memcpy reports bytes copied / time (each byte
// read once and written once).
//
// One pool serves every implementation of a configuration, so only one KV-sized allocation is
// live (gather adds its workspace). Dense reads the pool as per-sequence contiguous [L, Hkv, D]
// buffers (sequence b owns blocks [b * L/16, (b + 1) * L/16)); paged reads the same pool through
// a randomly shuffled block table, the worst case for locality.
// Configurations whose footprint would exceed kMaxBytes are skipped (2-core, 24 GB shared VM).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <sys/mman.h>
#include <vector>

#include "attention/decode_gather.h"
#include "attention/dense_decode_cpu.h"
#include "attention/paged_decode_cpu.h"
#include "core/aligned_buffer.h"
#include "core/thread_pool.h"

namespace pagedkv {
namespace {

constexpr int32_t kBlock = 16;
constexpr int32_t kHeadDim = 128;
constexpr size_t kMaxBytes = size_t(9) << 30;  // KV (+ gather workspace) must fit here

// Fills n bf16 values with cheap pseudo-random non-zero numbers in ±[2^-7, 1), in parallel.
void fill_bf16(uint16_t* p, size_t n, uint64_t seed) {
  ThreadPool& pool = ThreadPool::global();
  const size_t parts = 64;
  pool.parallel_for(parts, [&](size_t part) {
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + part + 1;
    const size_t lo = n * part / parts, hi = n * (part + 1) / parts;
    for (size_t i = lo; i < hi; ++i) {
      x ^= x << 13; x ^= x >> 7; x ^= x << 17;
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
  AlignedBuffer k, v;        // [B * L / 16, 16, Hkv, D] bf16 each
  AlignedBuffer q, out;      // [B, Hq, D] bf16
  std::vector<float> lse;    // [B, Hq]
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
    p.pages = {indptr.data(), shuffled_table ? shuffled.data() : identity.data(), first_offset.data(), visible_len.data(), batch};
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
  pr.hq = hq; pr.hkv = hkv; pr.batch = batch; pr.len = len;
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

enum Impl { kDense = 0, kGather = 1, kPaged = 2, kPagedIdentity = 3 };

void BM_Decode(benchmark::State& state) {
  const auto impl = Impl(state.range(0));
  const int32_t hq = int32_t(state.range(1)), hkv = int32_t(state.range(2));
  const int32_t batch = int32_t(state.range(3)), len = int32_t(state.range(4));
  const size_t kv = size_t(batch) * len * hkv * kHeadDim * 4;
  if (kv + (impl == kGather ? kv : 0) > kMaxBytes) {
    state.SkipWithError("skipped: footprint above the benchmark's memory cap");
    for (auto _ : state) {}
    return;
  }
  Problem& pr = problem_for(hq, hkv, batch, len);
  const DecodeParams p = pr.paged(impl != kPagedIdentity);
  const DenseDecodeParams d = pr.dense();
  auto step = [&] {
    switch (impl) {
      case kDense: dense_decode_cpu(d); break;
      case kGather: decode_gather(p, pr.gather_ws); break;
      case kPaged: case kPagedIdentity: paged_decode_cpu(p); break;
    }
  };
  step();  // warm-up: gather workspace allocated and faulted in before timing
  for (auto _ : state) {
    step();
    benchmark::DoNotOptimize(pr.out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(pr.kv_bytes()));
  state.counters["kv_MiB"] = double(pr.kv_bytes()) / (1 << 20);
  state.SetLabel(impl == kDense    ? "dense"
                 : impl == kGather ? "gather"
                 : impl == kPaged  ? "paged (shuffled table)"
                                   : "paged (identity table)");
}

// memcpy of a buffer far larger than the LLC, split across the same thread pool the kernels use.
void BM_Memcpy(benchmark::State& state) {
  const size_t n = size_t(state.range(0)) << 20;
  AlignedBuffer src(n), dst(n);
  std::memset(src.data(), 1, n);
  std::memset(dst.data(), 2, n);
  ThreadPool& pool = ThreadPool::global();
  const size_t parts = pool.num_threads();
  for (auto _ : state) {
    pool.parallel_for(parts, [&](size_t i) {
      const size_t lo = n * i / parts, hi = n * (i + 1) / parts;
      std::memcpy(dst.as<uint8_t>() + lo, src.as<uint8_t>() + lo, hi - lo);
    });
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n));
  state.SetLabel("memcpy (bytes copied)");
}

void register_all() {
  benchmark::RegisterBenchmark("BM_Memcpy", BM_Memcpy)->Arg(1024)->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  for (auto [hq, hkv] : {std::pair{32, 8}, std::pair{32, 32}}) {
    for (int batch : {1, 16, 64}) {
      for (int len : {1024, 4096, 16384}) {
        for (int impl : {kDense, kPaged, kPagedIdentity, kGather}) {
          benchmark::RegisterBenchmark("BM_Decode", BM_Decode)
              ->Args({impl, hq, hkv, batch, len})
              ->ArgNames({"impl", "Hq", "Hkv", "B", "L"})
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
      }
    }
  }
  benchmark::RegisterBenchmark("BM_Memcpy", BM_Memcpy)->Arg(1024)->Unit(benchmark::kMillisecond)
      ->UseRealTime();
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
