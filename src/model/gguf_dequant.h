#pragma once
// Dequantization of GGUF tensor data to f32, bit for bit what ggml's reference dequantize_row_*
// and the gguf Python package (gguf.quants.dequantize, which transformers' GGUF loader uses)
// produce: the same scale products in the same order, f32 multiplies and adds, no fused
// multiply-add (this file is compiled with -ffp-contract=off).
//
// Types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K. Others
// (IQ*, TQ*, MXFP4, Q8_1/Q8_K) are refused with Error(Unsupported) naming the type.

#include <cstddef>
#include <cstdint>

namespace pagedkv {

bool gguf_can_dequantize(uint32_t ggml_type);
// dst [n] = the first n elements of data (n a multiple of the type's block size).
void gguf_dequantize(uint32_t ggml_type, const std::byte* data, int64_t n, float* dst);

}  // namespace pagedkv
