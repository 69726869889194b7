// CPU decode implementations (fused paged, gather, dense) against the f64 reference over the
// issue-3 sweep, placement invariance bit for bit, and bad input rejected before any work.
#include "attention/paged_decode_cpu.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "attention/decode_gather.h"
#include "attention/decode_reference.h"
#include "attention/dense_decode_cpu.h"
#include "attention/testing/decode_problem.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace pagedkv {
namespace {

using testing::DecodeProblem;
using testing::DecodeProblemSpec;

enum class Impl { kPaged, kGather, kDense };
const char* impl_name(Impl i) {
  return i == Impl::kPaged ? "paged" : i == Impl::kGather ? "gather" : "dense";
}

// Dense run over the problem's visible tokens, copied out sequence by sequence here (not through
// decode_gather), so the dense entry point is exercised on its own.
void run_dense(DecodeProblem& prob, const CpuDecodeOptions& opt) {
  DecodeParams p = prob.params();
  const KvLayerView& kv = p.kv;
  const size_t row = size_t(kv.num_kv_heads) * kv.head_dim * dtype_size(kv.dtype);
  std::vector<std::vector<uint8_t>> kbuf(prob.batch()), vbuf(prob.batch());
  std::vector<const void*> ks, vs;
  for (int32_t b = 0; b < prob.batch(); ++b) {
    const int32_t len = prob.visible_len()[b];
    kbuf[b].resize(len * row);
    vbuf[b].resize(len * row);
    for (int32_t t = 0; t < len; ++t) {
      const int32_t pos = prob.first_offset()[b] + t;
      const int32_t block = prob.indices()[prob.indptr()[b] + pos / kv.block_size];
      const size_t src = (size_t(block) * kv.block_size + pos % kv.block_size) * row;
      std::memcpy(kbuf[b].data() + t * row, prob.k_pool().as<uint8_t>() + src, row);
      std::memcpy(vbuf[b].data() + t * row, prob.v_pool().as<uint8_t>() + src, row);
    }
    ks.push_back(kbuf[b].data());
    vs.push_back(vbuf[b].data());
  }
  dense_decode_cpu(dense_params_for(p, ks.data(), vs.data()), opt);
}

void run(Impl impl, DecodeProblem& prob, const CpuDecodeOptions& opt = {}) {
  prob.poison_outputs();
  switch (impl) {
    case Impl::kPaged:
      paged_decode_cpu(prob.params(), opt);
      break;
    case Impl::kGather:
      decode_gather(prob.params(), opt);
      break;
    case Impl::kDense:
      run_dense(prob, opt);
      break;
  }
}

// Runs impl and checks out and lse against the f64 reference within DESIGN §3's bounds.
void expect_matches_reference(Impl impl, DecodeProblem& prob, const CpuDecodeOptions& opt = {}) {
  SCOPED_TRACE(impl_name(impl));
  const auto ref = decode_reference_f64(prob.params());
  run(impl, prob, opt);
  const DecodeProblemSpec& s = prob.spec();
  const double err = testing::relative_error(prob.out().data(), s.q_dtype, ref.out);
  EXPECT_LE(err, testing::decode_error_bound(s.q_dtype, s.kv_dtype))
      << "q " << dtype_name(s.q_dtype) << " kv " << dtype_name(s.kv_dtype) << " D " << s.head_dim
      << " bs " << s.block_size << " Hq " << s.num_q_heads << " Hkv " << s.num_kv_heads;
  EXPECT_LE(testing::relative_error(prob.lse().data(), ref.lse), 1e-5);
}

TEST(CpuDecode, DtypesHeadDimsBlockSizes) {
  Rng rng(seed_from_env(301));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const DType dtypes[] = {DType::kF32, DType::kF16, DType::kBF16};
  for (DType dt : dtypes) {
    for (int32_t D : {64, 80, 96, 128, 256}) {
      for (int32_t bs : {1, 16, 256}) {
        SCOPED_TRACE(str_cat(dtype_name(dt), " D=", D, " bs=", bs));
        DecodeProblemSpec s;
        s.visible_len = testing::random_lengths(rng, 4, 700);
        s.num_q_heads = 8;
        s.num_kv_heads = 2;
        s.head_dim = D;
        s.block_size = bs;
        s.q_dtype = s.kv_dtype = dt;
        DecodeProblem prob(s, rng);
        expect_matches_reference(Impl::kPaged, prob);
      }
    }
  }
}

TEST(CpuDecode, MixedDtypes) {
  Rng rng(seed_from_env(302));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const std::pair<DType, DType> pairs[] = {{DType::kF32, DType::kBF16},
                                           {DType::kF32, DType::kF16},
                                           {DType::kBF16, DType::kF32},
                                           {DType::kF16, DType::kBF16}};
  for (auto [qd, kd] : pairs) {
    DecodeProblemSpec s;
    s.visible_len = testing::random_lengths(rng, 3, 300);
    s.q_dtype = qd;
    s.kv_dtype = kd;
    DecodeProblem prob(s, rng);
    expect_matches_reference(Impl::kPaged, prob);
  }
}

TEST(CpuDecode, GroupSizesAndMqa) {
  Rng rng(seed_from_env(303));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  // (Hq, Hkv): MHA, GQA 4, 8, 16, MQA.
  const std::pair<int32_t, int32_t> heads[] = {{4, 4}, {8, 2}, {16, 2}, {16, 1}, {12, 1}};
  for (auto [hq, hkv] : heads) {
    SCOPED_TRACE(str_cat("Hq=", hq, " Hkv=", hkv));
    DecodeProblemSpec s;
    s.visible_len = testing::random_lengths(rng, 3, 500);
    s.num_q_heads = hq;
    s.num_kv_heads = hkv;
    s.q_dtype = s.kv_dtype = DType::kBF16;
    DecodeProblem prob(s, rng);
    expect_matches_reference(Impl::kPaged, prob);
  }
}

// Batch of 64 with visible lengths from 1 to 8192 (partial first and last blocks), GQA 4.
TEST(CpuDecode, LargeBatchLongAndShortSequences) {
  Rng rng(seed_from_env(304));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  for (DType dt : {DType::kBF16, DType::kF32}) {
    DecodeProblemSpec s;
    s.visible_len = testing::random_lengths(rng, 64, 8192);
    s.num_q_heads = 4;
    s.num_kv_heads = 1;
    s.head_dim = 64;
    s.q_dtype = s.kv_dtype = dt;
    DecodeProblem prob(s, rng);
    expect_matches_reference(Impl::kPaged, prob);
  }
}

// Sliding windows and chunks, shorter and longer than the sequence, as the visible ranges the
// cache hands over; with softcap and sinks (the Gemma 2 / gpt-oss style variants).
TEST(CpuDecode, WindowsChunksSoftcapSinks) {
  Rng rng(seed_from_env(305));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const int32_t lens[] = {1, 5, 100, 1000, 3000};
  for (int variant = 0; variant < 4; ++variant) {
    const bool softcap = variant & 1, sinks = variant & 2;
    for (int32_t rule = 0; rule < 3; ++rule) {  // 0: full, 1: window, 2: chunked
      SCOPED_TRACE(str_cat("softcap=", softcap, " sinks=", sinks, " rule=", rule));
      DecodeProblemSpec s;
      s.block_size = 16;
      s.q_dtype = s.kv_dtype = DType::kBF16;
      s.softcap = softcap ? 3.0f : 0.0f;
      s.sinks = sinks;
      s.qk_stddev = 1.5f;
      for (int32_t len : lens) {
        for (int32_t limit : {64, 1024, 4096}) {  // shorter and longer than the sequences
          const AttentionRule r_rule = rule == 0   ? AttentionRule::full()
                                       : rule == 1 ? AttentionRule::sliding(limit)
                                                   : AttentionRule::chunked(limit);
          const testing::VisibleRange r = testing::visible_range(r_rule, len);
          s.visible_len.push_back(r.count);
          s.first_offset.push_back(r.start % s.block_size);
        }
      }
      DecodeProblem prob(s, rng);
      expect_matches_reference(Impl::kPaged, prob);
    }
  }
}

TEST(CpuDecode, GatherAndDenseMatchReference) {
  Rng rng(seed_from_env(306));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  for (DType dt : {DType::kF32, DType::kF16, DType::kBF16}) {
    for (int32_t D : {64, 96, 128, 256}) {
      DecodeProblemSpec s;
      s.visible_len = testing::random_lengths(rng, 5, 1500);
      s.head_dim = D;
      s.block_size = D == 96 ? 1 : 16;
      s.q_dtype = s.kv_dtype = dt;
      s.softcap = D == 128 ? 10.0f : 0.0f;
      s.sinks = D == 64;
      DecodeProblem prob(s, rng);
      expect_matches_reference(Impl::kGather, prob);
      expect_matches_reference(Impl::kDense, prob);
    }
  }
}

// One long sequence forced through many KV splits, one split, and auto: all within bounds.
TEST(CpuDecode, KvSplitsMerge) {
  Rng rng(seed_from_env(307));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  DecodeProblemSpec s;
  s.visible_len = {8192, 17};
  s.num_q_heads = 8;
  s.num_kv_heads = 1;
  s.sinks = true;
  s.q_dtype = s.kv_dtype = DType::kF32;
  DecodeProblem prob(s, rng);
  ThreadPool pool3(3);
  for (int32_t splits : {0, 1, 2, 7, 64}) {
    SCOPED_TRACE(str_cat("max_splits=", splits));
    CpuDecodeOptions opt;
    opt.max_splits = splits;
    opt.min_split_tokens = 16;
    opt.pool = &pool3;
    expect_matches_reference(Impl::kPaged, prob, opt);
  }
}

std::vector<uint8_t> snapshot_out(DecodeProblem& p) {
  std::vector<uint8_t> v(p.out().as<uint8_t>(), p.out().as<uint8_t>() + p.out().bytes());
  const uint8_t* l = reinterpret_cast<const uint8_t*>(p.lse().data());
  v.insert(v.end(), l, l + p.lse().size() * sizeof(float));
  return v;
}

// Shuffled vs identity table, and vs a fresh random placement: bit-identical out and lse.
// Also equal bit for bit to gather and dense over the same tokens (same engine, same tiles).
TEST(CpuDecode, PlacementInvarianceBitForBit) {
  Rng rng(seed_from_env(308));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  for (DType dt : {DType::kF32, DType::kBF16}) {
    for (int32_t bs : {1, 16, 256}) {
      SCOPED_TRACE(str_cat(dtype_name(dt), " bs=", bs));
      DecodeProblemSpec s;
      s.visible_len = testing::random_lengths(rng, 6, 3000);
      s.block_size = bs;
      s.q_dtype = s.kv_dtype = dt;
      s.sinks = true;
      s.shuffle_blocks = true;
      DecodeProblem shuffled(s, rng);
      // Identity: physical block of the k-th listed page = k.
      std::vector<int32_t> to_identity(shuffled.num_blocks(), -1);
      int32_t next = 0;
      for (int32_t id : shuffled.indices()) to_identity[id] = next++;
      for (int32_t& id : to_identity)
        if (id < 0) id = next++;
      DecodeProblem identity = shuffled.relocated(to_identity);
      for (size_t i = 0; i < identity.indices().size(); ++i)
        ASSERT_EQ(identity.indices()[i], int32_t(i));
      std::vector<int32_t> perm(shuffled.num_blocks());
      std::iota(perm.begin(), perm.end(), 0);
      std::shuffle(perm.begin(), perm.end(), rng.engine());
      DecodeProblem reshuffled = shuffled.relocated(perm);

      run(Impl::kPaged, shuffled);
      const auto expect = snapshot_out(shuffled);
      run(Impl::kPaged, identity);
      EXPECT_EQ(snapshot_out(identity), expect);
      run(Impl::kPaged, reshuffled);
      EXPECT_EQ(snapshot_out(reshuffled), expect);
      run(Impl::kPaged, shuffled);  // deterministic across calls
      EXPECT_EQ(snapshot_out(shuffled), expect);
      run(Impl::kGather, reshuffled);
      EXPECT_EQ(snapshot_out(reshuffled), expect);
      run(Impl::kDense, identity);
      EXPECT_EQ(snapshot_out(identity), expect);
    }
  }
}

// Sequences 1..3 start with the same prompt block as sequence 0. Private copies of that block vs
// one physical block listed by all four: bit-identical outputs.
TEST(CpuDecode, SharedPrefixBlockDoesNotChangeOutput) {
  Rng rng(seed_from_env(309));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  for (int32_t bs : {1, 16}) {
    DecodeProblemSpec s;
    s.visible_len = {40, 300, 17, 1100};
    s.first_offset = {0, 0, 0, 0};
    s.block_size = bs;
    s.q_dtype = s.kv_dtype = DType::kBF16;
    DecodeProblem priv(s, rng);
    const int32_t prefix = priv.indices()[priv.indptr()[0]];
    for (int32_t b = 1; b < 4; ++b) priv.copy_block(prefix, priv.indices()[priv.indptr()[b]]);
    run(Impl::kPaged, priv);
    const auto expect = snapshot_out(priv);
    for (int32_t b = 1; b < 4; ++b) priv.indices()[priv.indptr()[b]] = prefix;  // now shared
    run(Impl::kPaged, priv);
    EXPECT_EQ(snapshot_out(priv), expect) << "bs=" << bs;
    expect_matches_reference(Impl::kPaged, priv);
  }
}

TEST(CpuDecode, BadInputFailsBeforeAnyWork) {
  Rng rng(seed_from_env(310));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  DecodeProblemSpec s;
  s.visible_len = {5, 40, 9};
  s.block_size = 8;
  s.num_q_heads = 4;
  s.num_kv_heads = 2;
  DecodeProblem prob(s, rng);
  std::vector<int32_t> arr;
  const std::vector<std::pair<std::function<void(DecodeParams&)>, const char*>> cases = {
      {[](DecodeParams& p) { p.out = nullptr; }, "out is null"},
      {[](DecodeParams& p) { p.pages.first_offset = nullptr; }, "first_offset is null"},
      {[](DecodeParams& p) { p.num_q_heads = 3; }, "is not a multiple of num_kv_heads"},
      {[](DecodeParams& p) { p.kv.head_dim = 100; }, "head_dim 100 is not supported"},
      {[](DecodeParams& p) { p.kv.dtype = DType::kFP8E4M3; }, "fp8 KV is not supported"},
      {[&](DecodeParams& p) {
         arr = prob.visible_len();
         arr[1] = 0;
         p.pages.visible_len = arr.data();
       },
       "empty visible range"},
      {[&](DecodeParams& p) {
         arr = prob.indices();
         arr[3] = 1 << 20;
         p.pages.indices = arr.data();
       },
       "outside the pool"},
  };
  for (Impl impl : {Impl::kPaged, Impl::kGather}) {
    for (const auto& [mutate, expect] : cases) {
      SCOPED_TRACE(str_cat(impl_name(impl), ": ", expect));
      DecodeParams p = prob.params();
      mutate(p);
      prob.poison_outputs();
      try {
        if (impl == Impl::kPaged)
          paged_decode_cpu(p);
        else
          decode_gather(p);
        ADD_FAILURE() << "no error";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
      }
      EXPECT_TRUE(prob.outputs_poisoned());
    }
  }
  // Dense entry point.
  DenseDecodeParams d;
  d.num_q_heads = 4;
  d.num_kv_heads = 2;
  d.head_dim = 128;
  d.batch_size = 1;
  d.scale = 0.1f;
  EXPECT_THROW(dense_decode_cpu(d), Error);  // null pointers
  d.head_dim = 48;
  EXPECT_THROW(dense_decode_cpu(d), Error);
}

}  // namespace
}  // namespace pagedkv
