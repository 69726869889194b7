// The oracle itself: checked against closed forms (one token, equal values, sinks) and an
// independent dense softmax written here, plus the validator's error cases.
#include "attention/decode_reference.h"

#include <gtest/gtest.h>

#include <cmath>

#include "attention/decode_validate.h"
#include "attention/testing/decode_problem.h"
#include "core/error.h"

namespace pagedkv {
namespace {

using testing::DecodeProblem;
using testing::DecodeProblemSpec;

DecodeProblemSpec small_spec() {
  DecodeProblemSpec s;
  s.visible_len = {1, 7, 33, 16};
  s.num_q_heads = 4;
  s.num_kv_heads = 2;
  s.head_dim = 64;
  s.block_size = 8;
  return s;
}

TEST(DecodeReference, SingleTokenReturnsItsValue) {
  Rng rng(seed_from_env(11));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  DecodeProblemSpec s = small_spec();
  s.visible_len = {1, 1};
  DecodeProblem prob(s, rng);
  DecodeParams p = prob.params();
  const auto r = decode_reference_f64(p);
  for (int32_t b = 0; b < 2; ++b) {
    const int32_t pos = prob.first_offset()[b];
    const int32_t block = prob.indices()[prob.indptr()[b]];
    for (int32_t h = 0; h < 4; ++h) {
      const int64_t base = block * p.kv.stride_block + pos * p.kv.stride_token + (h / 2) * 64;
      for (int32_t d = 0; d < 64; ++d) {
        EXPECT_DOUBLE_EQ(r.out[(b * 4 + h) * 64 + d], load_as_f32(p.kv.v, p.kv.dtype, base + d));
      }
      // lse of one logit is the logit itself.
      double s = 0;
      for (int32_t d = 0; d < 64; ++d) {
        s += double(load_as_f32(p.q, p.q_dtype, (b * 4 + h) * 64 + d)) *
             load_as_f32(p.kv.k, p.kv.dtype, base + d);
      }
      EXPECT_NEAR(r.lse[b * 4 + h], s * p.scale, 1e-9);
    }
  }
}

// Independent check: copy each sequence's visible K/V out by walking positions, softmax densely.
TEST(DecodeReference, MatchesDenseSoftmaxWithSoftcapAndSinks) {
  Rng rng(seed_from_env(12));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  DecodeProblemSpec s = small_spec();
  s.softcap = 5.0f;
  s.sinks = true;
  s.qk_stddev = 2.0f;
  DecodeProblem prob(s, rng);
  DecodeParams p = prob.params();
  const auto r = decode_reference_f64(p);
  const int32_t bs = s.block_size, D = s.head_dim;
  for (int32_t b = 0; b < prob.batch(); ++b) {
    const int32_t len = prob.visible_len()[b];
    for (int32_t h = 0; h < s.num_q_heads; ++h) {
      std::vector<double> w(len);
      std::vector<int64_t> rows(len);
      for (int32_t t = 0; t < len; ++t) {
        const int32_t pos = prob.first_offset()[b] + t;
        const int32_t block = prob.indices()[prob.indptr()[b] + pos / bs];
        rows[t] = (int64_t(block) * bs + pos % bs) * s.num_kv_heads * D + (h / 2) * D;
        double dot = 0;
        for (int32_t d = 0; d < D; ++d) {
          dot += double(load_as_f32(p.q, p.q_dtype, (b * s.num_q_heads + h) * D + d)) *
                 load_as_f32(p.kv.k, p.kv.dtype, rows[t] + d);
        }
        w[t] = 5.0 * std::tanh(dot * p.scale / 5.0);
      }
      double denom = std::exp(double(prob.sinks()[h]));
      for (double& x : w) denom += (x = std::exp(x));
      EXPECT_NEAR(r.lse[b * s.num_q_heads + h], std::log(denom), 1e-9);
      for (int32_t d = 0; d < D; ++d) {
        double o = 0;
        for (int32_t t = 0; t < len; ++t) o += w[t] * load_as_f32(p.kv.v, p.kv.dtype, rows[t] + d);
        EXPECT_NEAR(r.out[(b * s.num_q_heads + h) * D + d], o / denom, 1e-9);
      }
    }
  }
}

// fp8 e4m3 KV (for the CUDA kernels): stored value * scale, per-tensor or per kv head.
TEST(DecodeReference, Fp8KvAppliesScales) {
  Rng rng(seed_from_env(15));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  DecodeProblemSpec s = small_spec();
  s.kv_dtype = DType::kFP8E4M3;
  DecodeProblem prob(s, rng);
  for (bool per_head : {false, true}) {
    SCOPED_TRACE(str_cat("per_head=", per_head));
    DecodeParams p = prob.params();
    const std::vector<float> khs = {0.25f, 3.0f}, vhs = {1.5f, 0.5f};
    p.kv.k_scale = 0.5f;
    p.kv.v_scale = 2.0f;
    if (per_head) {
      p.kv.k_head_scale = khs.data();
      p.kv.v_head_scale = vhs.data();
    }
    const auto r = decode_reference_f64(p);
    const int32_t bs = s.block_size, D = s.head_dim, Hq = s.num_q_heads;
    for (int32_t b = 0; b < prob.batch(); ++b) {
      const int32_t len = prob.visible_len()[b];
      for (int32_t h = 0; h < Hq; ++h) {
        const int32_t kvh = h / 2;
        const double ks = per_head ? khs[kvh] : 0.5, vs = per_head ? vhs[kvh] : 2.0;
        std::vector<double> w(len);
        std::vector<int64_t> rows(len);
        double m = -1e300;
        for (int32_t t = 0; t < len; ++t) {
          const int32_t pos = prob.first_offset()[b] + t;
          const int32_t block = prob.indices()[prob.indptr()[b] + pos / bs];
          rows[t] = (int64_t(block) * bs + pos % bs) * s.num_kv_heads * D + kvh * D;
          double dot = 0;
          for (int32_t d = 0; d < D; ++d) {
            dot += double(load_as_f32(p.q, p.q_dtype, (b * Hq + h) * D + d)) * ks *
                   fp8e4m3_to_f32(static_cast<const uint8_t*>(p.kv.k)[rows[t] + d]);
          }
          w[t] = dot * p.scale;
          m = std::max(m, w[t]);
        }
        double denom = 0;
        for (double& x : w) denom += (x = std::exp(x - m));
        for (int32_t d = 0; d < D; ++d) {
          double o = 0;
          for (int32_t t = 0; t < len; ++t) {
            o += w[t] * vs * fp8e4m3_to_f32(static_cast<const uint8_t*>(p.kv.v)[rows[t] + d]);
          }
          EXPECT_NEAR(r.out[(b * Hq + h) * D + d], o / denom, 1e-9);
        }
      }
    }
  }
}

TEST(DecodeReference, WritesOutputInQDtype) {
  Rng rng(seed_from_env(13));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  DecodeProblemSpec s = small_spec();
  s.q_dtype = DType::kBF16;
  s.kv_dtype = DType::kF16;
  DecodeProblem prob(s, rng);
  DecodeParams p = prob.params();
  const auto r = decode_reference_f64(p);
  decode_reference(p);
  for (size_t i = 0; i < r.out.size(); ++i) {
    ASSERT_EQ(f32_bits(load_as_f32(p.out, DType::kBF16, i)),
              f32_bits(round_through(DType::kBF16, float(r.out[i]))));
  }
  for (size_t i = 0; i < r.lse.size(); ++i) ASSERT_EQ(p.lse[i], float(r.lse[i]));
}

// Each bad input is rejected with the named problem, and out / lse stay untouched.
TEST(DecodeValidate, RejectsBadInputBeforeAnyWork) {
  Rng rng(seed_from_env(14));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  DecodeProblem prob(small_spec(), rng);
  struct Case {
    const char* what;
    std::function<void(DecodeParams&)> mutate;
    const char* expect;
  };
  std::vector<int32_t> bad_indices;
  const std::vector<Case> cases = {
      {"null q", [](DecodeParams& p) { p.q = nullptr; }, "q is null"},
      {"null k", [](DecodeParams& p) { p.kv.k = nullptr; }, "K pool pointer is null"},
      {"null v", [](DecodeParams& p) { p.kv.v = nullptr; }, "V pool pointer is null"},
      {"null indptr", [](DecodeParams& p) { p.pages.indptr = nullptr; }, "indptr is null"},
      {"null indices", [](DecodeParams& p) { p.pages.indices = nullptr; }, "indices is null"},
      {"null len", [](DecodeParams& p) { p.pages.visible_len = nullptr; }, "visible_len is null"},
      {"Hq % Hkv", [](DecodeParams& p) { p.num_q_heads = 5; }, "not a multiple"},
      {"head dim",
       [](DecodeParams& p) {
         p.kv.head_dim = 72;
         p.kv.stride_head = 72;
       },
       "head_dim 72 is not supported"},
      {"q dtype", [](DecodeParams& p) { p.q_dtype = DType::kFP8E4M3; }, "q/out dtype fp8_e4m3"},
      {"scale", [](DecodeParams& p) { p.scale = 0.f; }, "scale must be"},
      {"empty range",
       [&](DecodeParams& p) {
         static std::vector<int32_t> lens;
         lens = prob.visible_len();
         lens[2] = 0;
         p.pages.visible_len = lens.data();
       },
       "sequence 2 has an empty visible range"},
      {"first offset",
       [&](DecodeParams& p) {
         static std::vector<int32_t> offs;
         offs = prob.first_offset();
         offs[1] = 8;
         p.pages.first_offset = offs.data();
       },
       "first_offset 8 is outside"},
      {"too few blocks",
       [&](DecodeParams& p) {
         static std::vector<int32_t> lens;
         lens = prob.visible_len();
         lens[3] += 8;
         p.pages.visible_len = lens.data();
       },
       "but its page list has"},
      {"block id",
       [&](DecodeParams& p) {
         bad_indices = prob.indices();
         bad_indices.back() = p.kv.num_blocks;
         p.pages.indices = bad_indices.data();
       },
       "outside the pool"},
      {"negative block id",
       [&](DecodeParams& p) {
         bad_indices = prob.indices();
         bad_indices.front() = -1;
         p.pages.indices = bad_indices.data();
       },
       "lists block id -1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    DecodeParams p = prob.params();
    c.mutate(p);
    prob.poison_outputs();
    try {
      decode_reference(p);
      ADD_FAILURE() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos) << e.what();
    }
    EXPECT_TRUE(prob.outputs_poisoned());
  }
}

}  // namespace
}  // namespace pagedkv
