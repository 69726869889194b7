#include "model/gguf_dequant.h"

#include <cstring>

#include "core/dtype.h"
#include "core/error.h"
#include "core/ggml_type.h"

namespace pagedkv {

namespace {

constexpr int64_t QK_K = 256;

inline float half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// Block layouts: ggml-common.h (block_q4_0 ... block_q6_K).

void q4_0(const uint8_t* b, float* y) {  // {d, qs[16]}: low nibbles 0..15, high 16..31
  const float d = half(b);
  for (int j = 0; j < 16; ++j) {
    y[j] = d * float(int(b[2 + j] & 0xF) - 8);
    y[j + 16] = d * float(int(b[2 + j] >> 4) - 8);
  }
}

void q4_1(const uint8_t* b, float* y) {  // {d, m, qs[16]}
  const float d = half(b), m = half(b + 2);
  for (int j = 0; j < 16; ++j) {
    y[j] = d * float(b[4 + j] & 0xF) + m;
    y[j + 16] = d * float(b[4 + j] >> 4) + m;
  }
}

void q5_0(const uint8_t* b, float* y) {  // {d, qh (u32: bit j = high bit of element j), qs[16]}
  const float d = half(b);
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  for (int j = 0; j < 16; ++j) {
    const int lo = (b[6 + j] & 0xF) | int((qh >> j) & 1) << 4;
    const int hi = (b[6 + j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
    y[j] = d * float(lo - 16);
    y[j + 16] = d * float(hi - 16);
  }
}

void q5_1(const uint8_t* b, float* y) {  // {d, m, qh, qs[16]}
  const float d = half(b), m = half(b + 2);
  uint32_t qh;
  std::memcpy(&qh, b + 4, 4);
  for (int j = 0; j < 16; ++j) {
    const int lo = (b[8 + j] & 0xF) | int((qh >> j) & 1) << 4;
    const int hi = (b[8 + j] >> 4) | int((qh >> (j + 16)) & 1) << 4;
    y[j] = d * float(lo) + m;
    y[j + 16] = d * float(hi) + m;
  }
}

void q8_0(const uint8_t* b, float* y) {  // {d, qs[32] int8}
  const float d = half(b);
  for (int j = 0; j < 32; ++j) y[j] = float(int8_t(b[2 + j])) * d;
}

void q2_k(const uint8_t* b, float* y) {  // {scales[16], qs[64], d, dmin}
  const uint8_t* scales = b;
  const uint8_t* qs = b + 16;
  const float d = half(b + 80), dmin = half(b + 82);
  for (int64_t e = 0; e < QK_K; ++e) {
    const int64_t c = e / 128, s = (e % 128) / 32, byte = c * 32 + e % 32;
    const int q = (qs[byte] >> (2 * s)) & 3;
    const uint8_t sc = scales[e / 16];
    const float dl = d * float(sc & 0xF), ml = dmin * float(sc >> 4);
    y[e] = dl * float(q) - ml;
  }
}

void q3_k(const uint8_t* b, float* y) {  // {hmask[32], qs[64], scales[12], d}
  const uint8_t* hmask = b;
  const uint8_t* qs = b + 32;
  const uint8_t* sc = b + 96;
  const float d = half(b + 108);
  float dl[16];
  for (int i = 0; i < 16; ++i) {
    const int low = (sc[i % 8] >> (4 * (i / 8))) & 0xF;
    const int high = (sc[8 + i % 4] >> (2 * (i / 4))) & 3;
    dl[i] = d * float(int8_t(uint8_t(low | high << 4)) - 32);
  }
  for (int64_t e = 0; e < QK_K; ++e) {
    const int64_t c = e / 128, s = (e % 128) / 32, byte = c * 32 + e % 32;
    const int ql = (qs[byte] >> (2 * s)) & 3;
    const int qh = ((hmask[e % 32] >> (e / 32)) & 1) ^ 1;
    y[e] = dl[e / 16] * float(ql - (qh << 2));
  }
}

// The 8 (scale, min) pairs of Q4_K / Q5_K, 6 bits each (ggml get_scale_min_k4).
void scale_min_k4(const uint8_t* q, uint8_t* sc, uint8_t* m) {
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      sc[j] = q[j] & 63;
      m[j] = q[j + 4] & 63;
    } else {
      sc[j] = uint8_t((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
      m[j] = uint8_t((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
  }
}

void q4_k(const uint8_t* b, float* y) {  // {d, dmin, scales[12], qs[128]}
  const float d = half(b), dmin = half(b + 2);
  uint8_t sc[8], m[8];
  scale_min_k4(b + 4, sc, m);
  const uint8_t* qs = b + 16;
  for (int64_t e = 0; e < QK_K; ++e) {
    const int64_t s = e / 32, byte = (e / 64) * 32 + e % 32;
    const int q = (qs[byte] >> (4 * (s % 2))) & 0xF;
    const float ds = d * float(sc[s]), ms = dmin * float(m[s]);
    y[e] = ds * float(q) - ms;
  }
}

void q5_k(const uint8_t* b, float* y) {  // {d, dmin, scales[12], qh[32], qs[128]}
  const float d = half(b), dmin = half(b + 2);
  uint8_t sc[8], m[8];
  scale_min_k4(b + 4, sc, m);
  const uint8_t* qh = b + 16;
  const uint8_t* qs = b + 48;
  for (int64_t e = 0; e < QK_K; ++e) {
    const int64_t s = e / 32, byte = (e / 64) * 32 + e % 32;
    const int q = ((qs[byte] >> (4 * (s % 2))) & 0xF) | (((qh[e % 32] >> (e / 32)) & 1) << 4);
    const float ds = d * float(sc[s]), ms = dmin * float(m[s]);
    y[e] = ds * float(q) - ms;
  }
}

void q6_k(const uint8_t* b, float* y) {  // {ql[128], qh[64], scales[16] int8, d}
  const uint8_t* ql = b;
  const uint8_t* qh = b + 128;
  const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
  const float d = half(b + 208);
  for (int64_t e = 0; e < QK_K; ++e) {
    const int64_t c = e / 128, r = e % 128;
    const int lo = (ql[c * 64 + r % 64] >> (4 * (r / 64))) & 0xF;
    const int hi = (qh[c * 32 + r % 32] >> (2 * (r / 32))) & 3;
    const int q = int(int8_t(uint8_t(lo | hi << 4))) - 32;
    y[e] = (d * float(scales[e / 16])) * float(q);
  }
}

using BlockFn = void (*)(const uint8_t*, float*);

BlockFn block_fn(uint32_t type) {
  switch (GgmlType(type)) {
    case GgmlType::kQ4_0:
      return q4_0;
    case GgmlType::kQ4_1:
      return q4_1;
    case GgmlType::kQ5_0:
      return q5_0;
    case GgmlType::kQ5_1:
      return q5_1;
    case GgmlType::kQ8_0:
      return q8_0;
    case GgmlType::kQ2_K:
      return q2_k;
    case GgmlType::kQ3_K:
      return q3_k;
    case GgmlType::kQ4_K:
      return q4_k;
    case GgmlType::kQ5_K:
      return q5_k;
    case GgmlType::kQ6_K:
      return q6_k;
    default:
      return nullptr;
  }
}

}  // namespace

bool gguf_can_dequantize(uint32_t type) {
  return block_fn(type) != nullptr || type == uint32_t(GgmlType::kF32) ||
         type == uint32_t(GgmlType::kF16) || type == uint32_t(GgmlType::kBF16);
}

void gguf_dequantize(uint32_t type, const std::byte* data, int64_t n, float* dst) {
  const auto* p = reinterpret_cast<const uint8_t*>(data);
  switch (GgmlType(type)) {
    case GgmlType::kF32:
      std::memcpy(dst, p, size_t(n) * 4);
      return;
    case GgmlType::kF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = half(p + 2 * i);
      return;
    case GgmlType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        dst[i] = bf16_to_f32(h);
      }
      return;
    default:
      break;
  }
  const BlockFn fn = block_fn(type);
  PKV_CHECK(fn != nullptr, Unsupported, "GGUF tensor type ", ggml_type_name(type),
            " cannot be dequantized (supported: F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K "
            "Q4_K Q5_K Q6_K)");
  const GgmlTypeInfo info = *ggml_type_info(type);
  PKV_CHECK(n % info.block_size == 0, InvalidArgument, "gguf_dequantize: ", n,
            " elements is not a whole number of ", info.name, " blocks");
  for (int64_t b = 0; b < n / info.block_size; ++b)
    fn(p + b * info.block_bytes, dst + b * info.block_size);
}

}  // namespace pagedkv
