#pragma once
// ggml's tensor element types as GGUF files number them (ggml.h `enum ggml_type`), with their
// block layout: a row of a quantized tensor is stored as blocks of `block_size` elements taking
// `block_bytes` bytes each (F32: 1 element in 4 bytes; Q4_K: 256 elements in 144 bytes). The GGUF
// reader needs the layout to validate every tensor's byte size; dequantization lives in the model
// layer (model/gguf_dequant.h).

#include <cstdint>
#include <optional>
#include <string>

namespace pagedkv {

enum class GgmlType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kIQ2_XXS = 16,
  kIQ2_XS = 17,
  kIQ3_XXS = 18,
  kIQ1_S = 19,
  kIQ4_NL = 20,
  kIQ3_S = 21,
  kIQ2_S = 22,
  kIQ4_XS = 23,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kIQ1_M = 29,
  kBF16 = 30,
  kTQ1_0 = 34,
  kTQ2_0 = 35,
  kMXFP4 = 39,
};

struct GgmlTypeInfo {
  const char* name;     // "Q4_K", as ggml and the gguf Python package spell it
  int64_t block_size;   // elements per block
  int64_t block_bytes;  // bytes per block
};

// The layout of a type id read from a file; nullopt for an id ggml does not define.
std::optional<GgmlTypeInfo> ggml_type_info(uint32_t type);
// "Q4_K", or "type 99" for an unknown id (error messages).
std::string ggml_type_name(uint32_t type);

}  // namespace pagedkv
