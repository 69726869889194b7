#include "attention/decode_reference.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/decode_validate.h"

namespace pagedkv {

DecodeReferenceResult decode_reference_f64(const DecodeParams& p) {
  validate_decode_params(p);
  const KvLayerView& kv = p.kv;
  const PageListView& pl = p.pages;
  const int32_t B = pl.batch_size, Hq = p.num_q_heads, D = kv.head_dim;
  const int32_t G = Hq / kv.num_kv_heads;
  DecodeReferenceResult r;
  r.out.assign(size_t(B) * Hq * D, 0.0);
  r.lse.assign(size_t(B) * Hq, 0.0);
  const bool fp8 = kv.dtype == DType::kFP8E4M3;

  std::vector<double> logits, q(D);
  for (int32_t b = 0; b < B; ++b) {
    const int32_t len = pl.visible_len[b];
    logits.resize(len);
    for (int32_t h = 0; h < Hq; ++h) {
      const int32_t kvh = h / G;
      const double ks = !fp8 ? 1.0 : kv.k_head_scale ? kv.k_head_scale[kvh] : kv.k_scale;
      const double vs = !fp8 ? 1.0 : kv.v_head_scale ? kv.v_head_scale[kvh] : kv.v_scale;
      for (int32_t d = 0; d < D; ++d)
        q[d] = load_as_f32(p.q, p.q_dtype, (size_t(b) * Hq + h) * D + d);
      // Element offset of visible token t of this sequence, kv head kvh, dim 0.
      auto token_offset = [&](int32_t t) {
        const int64_t pos = int64_t(pl.first_offset[b]) + t;
        const int64_t block = pl.indices[pl.indptr[b] + pos / kv.block_size];
        return block * kv.stride_block + (pos % kv.block_size) * kv.stride_token +
               int64_t(kvh) * kv.stride_head;
      };
      double m = -std::numeric_limits<double>::infinity();
      for (int32_t t = 0; t < len; ++t) {
        const int64_t base = token_offset(t);
        double s = 0.0;
        for (int32_t d = 0; d < D; ++d) s += q[d] * (ks * load_as_f32(kv.k, kv.dtype, base + d));
        s *= double(p.scale);
        if (p.softcap > 0.0f) s = double(p.softcap) * std::tanh(s / double(p.softcap));
        logits[t] = s;
        m = std::max(m, s);
      }
      const double sink = p.sinks ? double(p.sinks[h]) : -std::numeric_limits<double>::infinity();
      m = std::max(m, sink);
      double denom = p.sinks ? std::exp(sink - m) : 0.0;
      double* o = &r.out[(size_t(b) * Hq + h) * D];
      for (int32_t t = 0; t < len; ++t) {
        const double w = std::exp(logits[t] - m);
        denom += w;
        const int64_t base = token_offset(t);
        for (int32_t d = 0; d < D; ++d) o[d] += w * (vs * load_as_f32(kv.v, kv.dtype, base + d));
      }
      for (int32_t d = 0; d < D; ++d) o[d] /= denom;
      r.lse[size_t(b) * Hq + h] = m + std::log(denom);
    }
  }
  return r;
}

void decode_reference(const DecodeParams& p) {
  const DecodeReferenceResult r = decode_reference_f64(p);
  for (size_t i = 0; i < r.out.size(); ++i) store_from_f32(p.out, p.q_dtype, i, float(r.out[i]));
  if (p.lse != nullptr) {
    for (size_t i = 0; i < r.lse.size(); ++i) p.lse[i] = float(r.lse[i]);
  }
}

}  // namespace pagedkv
