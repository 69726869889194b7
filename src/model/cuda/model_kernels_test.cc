// The CUDA model's building blocks against their CPU twins on seeded random inputs: cuBLASLt
// products against an f64 product, the fused residual + norm kernel against norms.cc, the fused
// q/k/v kernel against attention_layer.cc's apply_positions (every position mode, head dims 64,
// 128, 256) including what it stores into a paged pool, the gated activations against mlp.cc.
// Skips without a GPU.

#include "model/cuda/model_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/cuda/cuda_check.h"
#include "core/cuda/device_buffer.h"
#include "core/dtype.h"
#include "core/error.h"
#include "core/random.h"
#include "kv/cuda/device_kv_storage.h"
#include "model/attention_layer.h"
#include "model/cuda/gemm.h"
#include "model/cuda/gemv.h"
#include "model/mlp.h"
#include "model/norms.h"
#include "model/rope.h"

namespace pagedkv {
namespace {

#define REQUIRE_GPU() \
  if (!cuda_device_available()) GTEST_SKIP() << "no CUDA device: GPU test skipped"

using cuda::bf16_t;

std::vector<float> random_bf16_values(Rng& rng, int64_t n, float stddev = 1.f) {
  std::vector<float> v(static_cast<size_t>(n));
  rng.fill_normal(v, stddev);
  for (float& x : v) x = bf16_to_f32(f32_to_bf16(x));  // exactly representable in bf16
  return v;
}

DeviceBuffer to_device_bf16(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = f32_to_bf16(v[i]);
  return DeviceBuffer::from_vector(h);
}

std::vector<float> bf16_from_device(const DeviceBuffer& b, size_t n) {
  std::vector<uint16_t> h(n);
  b.to_host(h.data(), n * 2);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = bf16_to_f32(h[i]);
  return out;
}

double rel_error(const std::vector<float>& a, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - ref[i]) * (a[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

TEST(CudaGemm, LinearAndInputMajorMatchF64) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(71));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  cuda::Gemm gemm;
  for (int64_t M : {1, 7, 64, 300}) {
    const int64_t N = 96, K = 192;
    const std::vector<float> x = random_bf16_values(rng, M * K), w = random_bf16_values(rng, N * K);
    const DeviceBuffer dx = to_device_bf16(x), dw = to_device_bf16(w);
    for (bool input_major : {false, true}) {
      std::vector<double> ref(static_cast<size_t>(M * N), 0.0);  // w as [N, K] or as [K, N]
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t k = 0; k < K; ++k)
            ref[m * N + n] += double(x[m * K + k]) * (input_major ? w[k * N + n] : w[n * K + k]);
      DeviceBuffer y32(size_t(M * N) * 4), y16(size_t(M * N) * 2);
      auto run = [&](void* y, DType t) {
        if (input_major) {
          gemm.matmul_kn(dx.data(), dw.data(), y, t, M, N, K, nullptr);
        } else {
          gemm.linear(dx.data(), dw.data(), y, t, M, N, K, nullptr);
        }
      };
      run(y32.data(), DType::kF32);
      run(y16.data(), DType::kBF16);
      std::vector<float> r32(static_cast<size_t>(M * N));
      y32.to_host(r32.data(), r32.size() * 4);
      const double e32 = rel_error(r32, ref),
                   e16 = rel_error(bf16_from_device(y16, r32.size()), ref);
      EXPECT_LE(e32, 1e-5) << "M " << M << " input_major " << input_major;
      EXPECT_LE(e16, 5e-3) << "M " << M << " input_major " << input_major;
    }
  }
}

// Batch-invariant mode: a row's product has the same bits whatever M is (1 row, a few, a decode
// batch, more than the configuration's reference rows, a prefill chunk), on the decoder's shapes
// that matter for tile choice (a wide and a tall weight, an f32 result like the lm_head's) and
// both weight layouts; without it the check is meaningless, so the mode must also be reported on.
TEST(CudaGemm, BatchInvariantRowsDoNotDependOnM) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(79));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  cuda::Gemm gemm;
  gemm.set_batch_invariant(true);
  ASSERT_TRUE(gemm.batch_invariant());
  constexpr int64_t kMaxM = 1100;
  for (const auto& [N, K] : {std::pair<int64_t, int64_t>{3072, 2048}, {2048, 8192}, {1000, 520}}) {
    const std::vector<float> x = random_bf16_values(rng, kMaxM * K),
                             w = random_bf16_values(rng, N * K);
    const DeviceBuffer dx = to_device_bf16(x), dw = to_device_bf16(w);
    for (bool input_major : {false, true}) {
      for (DType t : {DType::kBF16, DType::kF32}) {
        const size_t esize = t == DType::kF32 ? 4 : 2;
        auto product = [&](int64_t M) {  // rows [0, M) of x
          DeviceBuffer y(size_t(M * N) * esize);
          if (input_major) {
            gemm.matmul_kn(dx.data(), dw.data(), y.data(), t, M, N, K, nullptr);
          } else {
            gemm.linear(dx.data(), dw.data(), y.data(), t, M, N, K, nullptr);
          }
          std::vector<uint8_t> h(size_t(M * N) * esize);
          y.to_host(h.data(), h.size());
          return h;
        };
        const std::vector<uint8_t> all = product(kMaxM);
        for (int64_t M : {1, 2, 5, 16, 64, 127, 128, 129, 256, 513}) {
          const std::vector<uint8_t> part = product(M);
          EXPECT_EQ(std::memcmp(part.data(), all.data(), part.size()), 0)
              << "N " << N << " K " << K << " input_major " << input_major << " f32 "
              << (t == DType::kF32) << ": rows of M = " << M
              << " differ from the same rows of M = " << kMaxM;
        }
      }
    }
  }
}

// The small-M path: every M it takes against an f64 product (K not a multiple of the 256 values a
// warp covers per pass, so the tail is exercised), each row bit-identical to that row alone (the
// sum's order does not depend on M), and Gemm::linear routing to it only when asked.
TEST(CudaGemv, SmallMMatchesF64AndEachRowAlone) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(73));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  cuda::Gemm gemm;
  gemm.set_small_m_rows(cuda::kGemvMaxRows);
  for (const auto& [N, K] : {std::pair<int64_t, int64_t>{96, 192}, {1000, 520}, {37, 4104}}) {
    const std::vector<float> w = random_bf16_values(rng, N * K);
    const DeviceBuffer dw = to_device_bf16(w);
    for (int64_t M = 1; M <= cuda::kGemvMaxRows; ++M) {
      SCOPED_TRACE(str_cat("M ", M, " N ", N, " K ", K));
      const std::vector<float> x = random_bf16_values(rng, M * K);
      const DeviceBuffer dx = to_device_bf16(x);
      std::vector<double> ref(static_cast<size_t>(M * N), 0.0);
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n)
          for (int64_t k = 0; k < K; ++k) ref[m * N + n] += double(x[m * K + k]) * w[n * K + k];
      DeviceBuffer y32(size_t(M * N) * 4), y16(size_t(M * N) * 2), routed(size_t(M * N) * 4);
      cuda::gemv(dx.data(), dw.data(), y32.data(), DType::kF32, M, N, K, nullptr);
      cuda::gemv(dx.data(), dw.data(), y16.data(), DType::kBF16, M, N, K, nullptr);
      gemm.linear(dx.data(), dw.data(), routed.data(), DType::kF32, M, N, K, nullptr);
      std::vector<float> r32(static_cast<size_t>(M * N)), via_gemm(r32.size());
      y32.to_host(r32.data(), r32.size() * 4);
      routed.to_host(via_gemm.data(), via_gemm.size() * 4);
      EXPECT_LE(rel_error(r32, ref), 1e-5);
      EXPECT_LE(rel_error(bf16_from_device(y16, r32.size()), ref), 5e-3);
      EXPECT_EQ(via_gemm, r32) << "Gemm::linear with the small-M path on must run gemv";
      const int64_t m = M - 1;  // the last row alone, from its own buffer
      const DeviceBuffer row = to_device_bf16(std::vector<float>(x.begin() + m * K, x.end()));
      DeviceBuffer alone(size_t(N) * 4);
      cuda::gemv(row.data(), dw.data(), alone.data(), DType::kF32, 1, N, K, nullptr);
      std::vector<float> a(static_cast<size_t>(N));
      alone.to_host(a.data(), a.size() * 4);
      EXPECT_TRUE(std::equal(a.begin(), a.end(), r32.begin() + m * N)) << "row " << m;
    }
  }
}

// Programmatic dependent launch: a GEMV launched to overlap the kernel that writes its x (here a
// device fill, launched right before on the same stream, over an x that held other values) must
// read the new x: the same result as an ordinary launch after the fill, bit for bit, at every M.
TEST(CudaGemv, ProgrammaticLaunchWaitsForTheKernelThatWritesX) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(74));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const int64_t N = 4096, K = 4096;  // big enough that the fill is still running at the launch
  const DeviceBuffer dw = to_device_bf16(random_bf16_values(rng, N * K));
  cudaStream_t s;
  cuda_check(cudaStreamCreate(&s), "stream");
  for (int64_t M = 1; M <= cuda::kGemvMaxRows; ++M) {
    SCOPED_TRACE(str_cat("M ", M));
    DeviceBuffer dx = to_device_bf16(random_bf16_values(rng, M * K));  // the stale x
    DeviceBuffer y(size_t(M * N) * 4), ref(size_t(M * N) * 4);
    const uint64_t seed = rng.engine()();
    cuda::fill_normal_bf16(dx.as<bf16_t>(), M * K, 0.f, 1.f, seed, s);
    cuda::gemv(dx.data(), dw.data(), y.data(), DType::kF32, M, N, K, s, /*programmatic=*/true);
    cuda::gemv(dx.data(), dw.data(), ref.data(), DType::kF32, M, N, K, s);
    cuda_check(cudaStreamSynchronize(s), "sync");
    std::vector<float> a(static_cast<size_t>(M * N)), b(a.size());
    y.to_host(a.data(), a.size() * 4);
    ref.to_host(b.data(), b.size() * 4);
    EXPECT_EQ(a, b);
  }
  cudaStreamDestroy(s);
}

// Shapes the kernel does not take are refused before anything is launched (no GPU needed), and
// Gemm::linear hands them to cuBLASLt instead.
TEST(CudaGemv, RefusesShapesItDoesNotTake) {
  alignas(16) static uint16_t x[64], w[64];
  float y[8];
  EXPECT_TRUE(cuda::gemv_takes(1, 16, x, w));
  EXPECT_FALSE(cuda::gemv_takes(0, 16, x, w));
  EXPECT_FALSE(cuda::gemv_takes(cuda::kGemvMaxRows + 1, 16, x, w));
  EXPECT_FALSE(cuda::gemv_takes(1, 12, x, w));      // K not a multiple of 8
  EXPECT_FALSE(cuda::gemv_takes(1, 16, x + 1, w));  // misaligned x
  EXPECT_FALSE(cuda::gemv_takes(1, 16, x, w + 4));  // misaligned w
  for (const int64_t M : {int64_t(0), cuda::kGemvMaxRows + 1}) {
    try {
      cuda::gemv(x, w, y, DType::kF32, M, 1, 16, nullptr);
      ADD_FAILURE() << "M = " << M << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("M = " + std::to_string(M)), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(cuda::gemv(x, w, y, DType::kF32, 1, 1, 12, nullptr), Error);
  EXPECT_THROW(cuda::gemv(x, w, y, DType::kF16, 1, 1, 16, nullptr), Error);
}

TEST(CudaKernels, AddRmsNormMatchesCpu) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(72));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const int64_t R = 5, H = 320;
  for (NormWeight mode : {NormWeight::kPlain, NormWeight::kOnePlus}) {
    for (bool sandwich : {false, true}) {
      std::vector<float> x(R * H), bias(H), yn(H), w(H);
      rng.fill_normal(x);
      rng.fill_normal(bias, 0.1f);
      rng.fill_normal(yn, 0.2f);
      rng.fill_normal(w, 0.2f);
      const std::vector<float> y = random_bf16_values(rng, R * H);
      DeviceBuffer dx = DeviceBuffer::from_vector(x), dy = to_device_bf16(y);
      DeviceBuffer db = DeviceBuffer::from_vector(bias), dyn = DeviceBuffer::from_vector(yn),
                   dw = DeviceBuffer::from_vector(w), dh(size_t(R * H) * 2);
      cuda::AddNormArgs a;
      a.x = dx.as<float>();
      a.y = dy.data();
      a.y_bias = db.as<float>();
      a.y_norm = sandwich ? dyn.as<float>() : nullptr;
      a.w = dw.as<float>();
      a.h = dh.as<bf16_t>();
      a.rows = R;
      a.hidden = H;
      a.mode = mode;
      a.eps = 1e-6f;
      cuda::add_rmsnorm(a, nullptr);
      // CPU: t = y + b; t = norm(t) (sandwich); x += t; h = norm(x).
      std::vector<float> t(R * H), h(R * H);
      for (int64_t i = 0; i < R * H; ++i) t[i] = y[i] + bias[i % H];
      if (sandwich) rms_norm(t.data(), R, H, yn.data(), mode, 1e-6f);
      for (int64_t i = 0; i < R * H; ++i) x[i] += t[i];
      rms_norm_to(x.data(), h.data(), R, H, w.data(), mode, 1e-6f);
      std::vector<float> gx(R * H);
      dx.to_host(gx.data(), gx.size() * 4);
      const std::vector<double> rx(x.begin(), x.end()), rh(h.begin(), h.end());
      EXPECT_LE(rel_error(gx, rx), 1e-6) << "mode " << int(mode) << " sandwich " << sandwich;
      EXPECT_LE(rel_error(bf16_from_device(dh, h.size()), rh), 5e-3);
    }
  }
}

struct PositionCase {
  QkNorm qk_norm;
  NormWeight mode;
  RopeStyle style;
  bool rope;  // false: NoPE (with temperature tuning)
  DType pool_dtype;
};

TEST(CudaKernels, QkvPositionsWriteMatchesCpu) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(73));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const PositionCase cases[] = {
      {QkNorm::kNone, NormWeight::kPlain, RopeStyle::kRotateHalf, true, DType::kBF16},
      {QkNorm::kLearnedBeforeRope, NormWeight::kPlain, RopeStyle::kRotateHalf, true, DType::kBF16},
      {QkNorm::kLearnedBeforeRope, NormWeight::kOnePlus, RopeStyle::kRotateHalf, true,
       DType::kBF16},
      {QkNorm::kWeightlessAfterRope, NormWeight::kPlain, RopeStyle::kInterleaved, true,
       DType::kBF16},
      {QkNorm::kWeightlessAfterRope, NormWeight::kPlain, RopeStyle::kInterleaved, false,
       DType::kBF16},
      {QkNorm::kLearnedBeforeRope, NormWeight::kPlain, RopeStyle::kRotateHalf, true,
       DType::kFP8E4M3},
  };
  for (int32_t D : {64, 128, 256}) {
    for (const PositionCase& pc : cases) {
      SCOPED_TRACE(str_cat("D ", D, " qk_norm ", int(pc.qk_norm), " rope ", pc.rope, " style ",
                           int(pc.style), " pool ", dtype_name(pc.pool_dtype)));
      const int32_t Hq = 4, Hkv = 2, R = 6, bs = 4;
      const int64_t row = int64_t(Hq + 2 * Hkv) * D;
      ModelConfig c;
      c.num_heads = Hq;
      c.num_kv_heads = Hkv;
      c.head_dim = D;
      c.qk_norm = pc.qk_norm;
      c.norm_weight = pc.mode;
      c.rope_style = pc.style;
      c.floor_scale = 2;  // temperature tuning active from position 1
      c.attn_scale = 0.1;
      c.rms_norm_eps = 1e-5;
      LayerConfig layer;
      layer.use_rope = pc.rope;
      layer.temperature_tuning = !pc.rope;
      layer.rope.theta = 10000;
      const Rope rope(layer.rope, D, pc.style);
      const std::vector<float> qkv = random_bf16_values(rng, R * row);
      std::vector<float> bias(row), qn(D), kn(D);
      rng.fill_normal(bias, 0.1f);
      rng.fill_normal(qn, 0.2f);
      rng.fill_normal(kn, 0.2f);
      if (pc.mode == NormWeight::kPlain)
        for (float& v : qn) v += 1.f;
      const std::vector<int32_t> pos{0, 1, 5, 17, 100, 4097};
      const std::vector<int64_t> pos64(pos.begin(), pos.end());
      std::vector<int64_t> slots{3, 0, 9, 14, -1, 6};  // -1: not stored
      DeviceKvStorage pool(KvGeometry{1, 4, bs, Hkv, D, pc.pool_dtype});
      DeviceBuffer dqkv = to_device_bf16(qkv), dbias = DeviceBuffer::from_vector(bias),
                   dqn = DeviceBuffer::from_vector(qn), dkn = DeviceBuffer::from_vector(kn),
                   dfreq = DeviceBuffer::from_vector(rope.inv_freq()),
                   dpos = DeviceBuffer::from_vector(pos), dslots = DeviceBuffer::from_vector(slots),
                   dq(size_t(R * Hq * D) * 2);
      cuda::QkvArgs a;
      a.qkv = dqkv.as<bf16_t>();
      a.bias = dbias.as<float>();
      a.q_norm = dqn.as<float>();
      a.k_norm = dkn.as<float>();
      a.inv_freq = pc.rope ? dfreq.as<float>() : nullptr;
      a.pos = dpos.as<int32_t>();
      a.slots = dslots.as<int64_t>();
      a.q = dq.as<bf16_t>();
      a.pool = pool.layer_view(0);
      a.rows = R;
      a.num_q_heads = Hq;
      a.num_kv_heads = Hkv;
      a.head_dim = D;
      a.qk_norm = pc.qk_norm;
      a.norm_mode = pc.mode;
      a.rope_style = pc.style;
      a.temperature_tuning = !pc.rope;
      a.floor_scale = 2.f;
      a.attn_scale = 0.1f;
      a.eps = 1e-5f;
      cuda::qkv_positions_write(a, nullptr);
      cuda_check(cudaDeviceSynchronize(), "qkv kernel");
      // CPU: split, add bias, apply_positions.
      std::vector<float> q(R * Hq * D), k(R * Hkv * D), v(R * Hkv * D);
      for (int32_t r = 0; r < R; ++r)
        for (int64_t i = 0; i < row; ++i) {
          const float x = qkv[r * row + i] + bias[i];
          if (i < Hq * D)
            q[r * Hq * D + i] = x;
          else if (i < (Hq + Hkv) * D)
            k[r * Hkv * D + i - Hq * D] = x;
          else
            v[r * Hkv * D + i - (Hq + Hkv) * D] = x;
        }
      AttentionWeights w;
      w.q_norm = qn;
      w.k_norm = kn;
      apply_positions(c, layer, rope, w, pos64.data(), R, q.data(), k.data());
      const std::vector<double> rq(q.begin(), q.end());
      EXPECT_LE(rel_error(bf16_from_device(dq, q.size()), rq), 5e-3) << "q";
      const double kv_bound = pc.pool_dtype == DType::kFP8E4M3 ? 4e-2 : 5e-3;
      for (int32_t r = 0; r < R; ++r) {
        if (slots[r] < 0) continue;
        std::vector<float> gk(Hkv * D), gv(Hkv * D);
        pool.read_token(0, int32_t(slots[r] / bs), int32_t(slots[r] % bs), gk.data(), gv.data());
        const std::vector<double> rk(k.begin() + r * Hkv * D, k.begin() + (r + 1) * Hkv * D),
            rv(v.begin() + r * Hkv * D, v.begin() + (r + 1) * Hkv * D);
        EXPECT_LE(rel_error(gk, rk), kv_bound) << "k of row " << r;
        EXPECT_LE(rel_error(gv, rv), kv_bound) << "v of row " << r;
      }
      std::vector<float> untouched(Hkv * D), u2(Hkv * D);  // slot 1 of block 0: no row's slot
      pool.read_token(0, 0, 1, untouched.data(), u2.data());
      for (float x : untouched) EXPECT_EQ(x, 0.f);
    }
  }
}

TEST(CudaKernels, GatedActivationMatchesCpu) {
  REQUIRE_GPU();
  Rng rng(seed_from_env(74));
  const int64_t R = 3, I = 200;
  for (Activation act : {Activation::kSilu, Activation::kGeluTanh}) {
    const std::vector<float> gu = random_bf16_values(rng, R * 2 * I, 2.f);
    std::vector<float> bias(2 * I);
    rng.fill_normal(bias, 0.1f);
    DeviceBuffer dgu = to_device_bf16(gu), db = DeviceBuffer::from_vector(bias),
                 dout(size_t(R * I) * 2);
    cuda::gated_activation(dgu.as<bf16_t>(), db.as<float>(), db.as<float>() + I, act,
                           dout.as<bf16_t>(), R, I, nullptr);
    std::vector<double> ref(R * I);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < I; ++c)
        ref[r * I + c] =
            activate(act, gu[r * 2 * I + c] + bias[c]) * (gu[r * 2 * I + I + c] + bias[I + c]);
    EXPECT_LE(rel_error(bf16_from_device(dout, ref.size()), ref), 5e-3) << int(act);
  }
}

}  // namespace
}  // namespace pagedkv
