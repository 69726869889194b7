#include "core/cuda/cuda_check.h"
#include "engine/cuda/sampler_cuda.h"

namespace pagedkv::cuda {

namespace {

constexpr int kThreads = 512;

// Sum over the CTA in a fixed order (warp tree, then the warps' sums in index order).
template <typename T>
__device__ T block_sum(T v, T* scratch) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T total = 0;
  for (int w = 0; w < kThreads / 32; ++w) total += scratch[w];
  return total;
}

// (value, index) maximum over the CTA; the lower index wins ties.
__device__ void block_argmax(float& v, int& i, float* sv, int* si) {
  for (int o = 16; o > 0; o /= 2) {
    const float ov = __shfl_xor_sync(0xffffffffu, v, o);
    const int oi = __shfl_xor_sync(0xffffffffu, i, o);
    if (oi >= 0 && (i < 0 || ov > v || (ov == v && oi < i))) v = ov, i = oi;
  }
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) sv[warp] = v, si[warp] = i;
  __syncthreads();
  v = -INFINITY;
  i = -1;
  for (int w = 0; w < kThreads / 32; ++w)
    if (si[w] >= 0 && (i < 0 || sv[w] > v || (sv[w] == v && si[w] < i))) v = sv[w], i = si[w];
}

__global__ void __launch_bounds__(kThreads)
    sample_rows(const float* __restrict__ logits, int64_t V, const CounterDraw* __restrict__ draws,
                int32_t* __restrict__ tokens) {
  __shared__ float sv[kThreads / 32];
  __shared__ int si[kThreads / 32];
  __shared__ int64_t sn[kThreads / 32];
  __shared__ float sf[kThreads / 32];
  const float* l = logits + int64_t(blockIdx.x) * V;
  const CounterDraw d = draws[blockIdx.x];
  float m = -INFINITY;
  int best = -1, bad = 0;
  for (int64_t i = threadIdx.x; i < V; i += kThreads) {
    const float x = l[i];
    bad |= isnan(x) || x == INFINITY;
    if (best < 0 || x > m) m = x, best = int(i);
  }
  if (__syncthreads_or(bad)) {
    if (threadIdx.x == 0) tokens[blockIdx.x] = -1;
    return;
  }
  block_argmax(m, best, sv, si);
  if (d.temperature <= 0.f) {
    if (threadIdx.x == 0) tokens[blockIdx.x] = best;
    return;
  }
  const float inv_t = 1.f / d.temperature;
  uint32_t thr = 0;
  if (d.top_k > 0 && int64_t(d.top_k) < V) {
    thr = largest_key_reaching(0u, int64_t(d.top_k), [&](uint32_t x) {
      int64_t n = 0;
      for (int64_t i = threadIdx.x; i < V; i += kThreads) n += order_key(l[i]) >= x;
      return block_sum(n, sn);
    });
  }
  if (d.top_p < 1.f) {
    const auto mass = [&](uint32_t x) {
      float s = 0.f;
      for (int64_t i = threadIdx.x; i < V; i += kThreads)
        if (order_key(l[i]) >= x) s += expf((l[i] - m) * inv_t);
      return block_sum(s, sf);
    };
    thr = largest_key_reaching(thr, d.top_p * mass(thr), mass);
  }
  thr = final_threshold(thr, m, d);
  float score = -INFINITY;
  int token = -1;
  for (int64_t i = threadIdx.x; i < V; i += kThreads) {
    if (order_key(l[i]) < thr) continue;
    const float s = (l[i] - m) * inv_t + gumbel_noise(philox_u32(d.seed, d.counter, uint32_t(i)));
    if (token < 0 || s > score) score = s, token = int(i);
  }
  block_argmax(score, token, sv, si);
  if (threadIdx.x == 0) tokens[blockIdx.x] = token;
}

}  // namespace

SamplerCuda::~SamplerCuda() {
  if (pinned_) cudaFreeHost(pinned_);
}

std::vector<int32_t> SamplerCuda::sample(const float* logits, int64_t vocab,
                                         std::span<const CounterDraw> draws, cudaStream_t stream) {
  const size_t B = draws.size();
  std::vector<int32_t> out(B);
  if (B == 0) return out;
  if (B > capacity_) {
    if (pinned_) cudaFreeHost(pinned_);
    pinned_ = nullptr;
    capacity_ = std::max<size_t>(B, 256);
    cuda_check(cudaMallocHost(&pinned_, capacity_ * (sizeof(CounterDraw) + 4)), "sampler");
    draws_ = DeviceBuffer(capacity_ * sizeof(CounterDraw), "sampler draws");
    tokens_ = DeviceBuffer(capacity_ * 4, "sampled tokens");
  }
  auto* host_draws = static_cast<CounterDraw*>(pinned_);
  auto* host_tokens = reinterpret_cast<int32_t*>(host_draws + capacity_);
  std::copy(draws.begin(), draws.end(), host_draws);
  cuda_check(cudaMemcpyAsync(draws_.data(), host_draws, B * sizeof(CounterDraw),
                             cudaMemcpyHostToDevice, stream),
             "sampler draws");
  sample_rows<<<unsigned(B), kThreads, 0, stream>>>(logits, vocab, draws_.as<CounterDraw>(),
                                                    tokens_.as<int32_t>());
  cuda_check(cudaGetLastError(), "sampler launch");
  cuda_check(cudaMemcpyAsync(host_tokens, tokens_.data(), B * 4, cudaMemcpyDeviceToHost, stream),
             "sampled tokens");
  cuda_check(cudaStreamSynchronize(stream), "GPU sampling");
  std::copy(host_tokens, host_tokens + B, out.begin());
  return out;
}

}  // namespace pagedkv::cuda
