#include "model/reference_forward.h"

#include <cmath>

#include "core/error.h"

namespace pagedkv {
namespace {

// W [out, in] row-major, widened once from the packed layout.
struct Dense {
  int64_t out = 0, in = 0;
  std::vector<float> w, b;
};

Dense unpack(const Linear& l) {
  Dense d{l.out, l.in, std::vector<float>(size_t(l.out * l.in)), l.bias};
  for (int64_t o = 0; o < l.out; ++o)
    for (int64_t i = 0; i < l.in; ++i) d.w[size_t(o * l.in + i)] = l.weight->at(o, i);
  return d;
}

std::vector<double> matvec(const Dense& d, const std::vector<double>& x) {
  std::vector<double> y(size_t(d.out));
  for (int64_t o = 0; o < d.out; ++o) {
    double acc = d.b.empty() ? 0.0 : double(d.b[size_t(o)]);
    const float* row = d.w.data() + o * d.in;
    for (int64_t i = 0; i < d.in; ++i) acc += double(row[i]) * x[size_t(i)];
    y[size_t(o)] = acc;
  }
  return y;
}

std::vector<double> rms_norm(const std::vector<double>& x, const std::vector<float>& w,
                             double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / double(x.size()) + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * inv * double(w[i]);
  return y;
}

// Rotate-half RoPE of one head (elements i and i + D/2 together), default frequencies.
void rope(double* h, int64_t D, int64_t pos, double theta) {
  for (int64_t i = 0; i < D / 2; ++i) {
    const double angle = double(pos) * std::pow(theta, -2.0 * double(i) / double(D));
    const double c = std::cos(angle), s = std::sin(angle);
    const double x1 = h[i], x2 = h[i + D / 2];
    h[i] = x1 * c - x2 * s;
    h[i + D / 2] = x2 * c + x1 * s;
  }
}

struct Layer {
  Dense q, k, v, o, gate, up, down;
  std::vector<float> attn_norm, mlp_norm;
  std::vector<std::vector<double>> keys, values;  // [position][Hkv * D]
};

void check_supported(const ModelConfig& c, const ModelWeights& w) {
  bool ok = c.qk_norm == QkNorm::kNone && c.rope_style == RopeStyle::kRotateHalf &&
            c.activation == Activation::kSilu && c.norm_weight == NormWeight::kPlain &&
            c.embed_scale == 1.0 && c.attn_logit_softcap == 0 && c.final_logit_softcap == 0 &&
            int64_t(w.layers.size()) == c.num_layers && int64_t(c.layers.size()) == c.num_layers;
  for (int64_t i = 0; ok && i < c.num_layers; ++i) {
    const LayerConfig& l = c.layers[size_t(i)];
    const LayerWeights& lw = w.layers[size_t(i)];
    ok = !l.moe && l.use_rope && !l.temperature_tuning && l.rope.type == RopeType::kDefault &&
         l.attention == AttentionRule{} && lw.attn_out_norm.empty() && lw.mlp_out_norm.empty();
  }
  PKV_CHECK(ok, Unsupported, "reference_greedy: only plain Llama-shaped models (", c.architecture,
            " is not one)");
}

}  // namespace

std::vector<int32_t> reference_greedy(const ModelConfig& c, const ModelWeights& w,
                                      std::span<const int32_t> prompt, int32_t max_new_tokens) {
  check_supported(c, w);
  PKV_CHECK(!prompt.empty() && max_new_tokens >= 1, InvalidArgument,
            "reference_greedy: needs a prompt and >= 1 new token");
  const int64_t H = c.hidden_size, D = c.head_dim, Hq = c.num_heads, Hkv = c.num_kv_heads;
  const int64_t G = Hq / Hkv, V = c.vocab_size;
  std::vector<Layer> layers(size_t(c.num_layers));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const LayerWeights& lw = w.layers[size_t(i)];
    Layer& l = layers[size_t(i)];
    l.q = unpack(lw.attn.q);
    l.k = unpack(lw.attn.k);
    l.v = unpack(lw.attn.v);
    l.o = unpack(lw.attn.o);
    l.gate = unpack(lw.mlp.gate);
    l.up = unpack(lw.mlp.up);
    l.down = unpack(lw.mlp.down);
    l.attn_norm = lw.attn_norm;
    l.mlp_norm = lw.mlp_norm;
  }
  const Dense lm_head = unpack(w.lm_head);

  // One token at position pos through every layer; returns its logits.
  auto step = [&](int32_t token, int64_t pos) {
    PKV_CHECK(token >= 0 && token < V, InvalidArgument, "reference_greedy: token ", token,
              " outside the vocabulary");
    std::vector<double> x(static_cast<size_t>(H));
    for (int64_t i = 0; i < H; ++i) x[size_t(i)] = double(w.embed->at(token, i));
    for (int64_t li = 0; li < c.num_layers; ++li) {
      Layer& l = layers[size_t(li)];
      const double theta = c.layers[size_t(li)].rope.theta;
      const std::vector<double> h = rms_norm(x, l.attn_norm, c.rms_norm_eps);
      std::vector<double> q = matvec(l.q, h), k = matvec(l.k, h);
      for (int64_t hd = 0; hd < Hq; ++hd) rope(q.data() + hd * D, D, pos, theta);
      for (int64_t hd = 0; hd < Hkv; ++hd) rope(k.data() + hd * D, D, pos, theta);
      l.keys.push_back(std::move(k));
      l.values.push_back(matvec(l.v, h));
      std::vector<double> attn(size_t(Hq * D), 0.0);
      for (int64_t hd = 0; hd < Hq; ++hd) {
        const int64_t kvh = hd / G;
        std::vector<double> score(l.keys.size());
        double top = -INFINITY;
        for (size_t t = 0; t < l.keys.size(); ++t) {
          double dot = 0;
          for (int64_t d = 0; d < D; ++d)
            dot += q[size_t(hd * D + d)] * l.keys[t][size_t(kvh * D + d)];
          score[t] = dot * c.query_scale;
          top = std::max(top, score[t]);
        }
        double sum = 0;
        for (double& s : score) sum += (s = std::exp(s - top));
        for (size_t t = 0; t < l.keys.size(); ++t)
          for (int64_t d = 0; d < D; ++d)
            attn[size_t(hd * D + d)] += score[t] / sum * l.values[t][size_t(kvh * D + d)];
      }
      const std::vector<double> o = matvec(l.o, attn);
      for (int64_t i = 0; i < H; ++i) x[size_t(i)] += o[size_t(i)];
      const std::vector<double> m = rms_norm(x, l.mlp_norm, c.rms_norm_eps);
      const std::vector<double> g = matvec(l.gate, m), u = matvec(l.up, m);
      std::vector<double> a(g.size());
      for (size_t i = 0; i < g.size(); ++i) a[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
      const std::vector<double> down = matvec(l.down, a);
      for (int64_t i = 0; i < H; ++i) x[size_t(i)] += down[size_t(i)];
    }
    return matvec(lm_head, rms_norm(x, w.final_norm, c.rms_norm_eps));
  };
  auto argmax = [](const std::vector<double>& logits) {
    size_t best = 0;
    for (size_t i = 1; i < logits.size(); ++i)
      if (logits[i] > logits[best]) best = i;
    return int32_t(best);
  };

  std::vector<double> logits;
  for (size_t i = 0; i < prompt.size(); ++i) logits = step(prompt[i], int64_t(i));
  std::vector<int32_t> out;
  for (int32_t n = 0; n < max_new_tokens; ++n) {
    out.push_back(argmax(logits));
    if (n + 1 < max_new_tokens) logits = step(out.back(), int64_t(prompt.size()) + n);
  }
  return out;
}

}  // namespace pagedkv
