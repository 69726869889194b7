#pragma once
// TensorSource: where the weight loaders (CPU: model_weights.h, CUDA: cuda/device_weights.h) read
// tensors by their Hugging Face names. Two implementations: TensorStore (safetensors, one file or
// shards) and GgufTensors (a GGUF file's tensors under their HF names, dequantized and re-laid out
// as transformers' GGUF loader does). Shapes are row-major, torch order.

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace pagedkv {

class TensorSource {
 public:
  virtual ~TensorSource() = default;

  virtual bool contains(const std::string& name) const = 0;
  virtual std::vector<std::string> names() const = 0;  // sorted
  // "checkpoint DIR" / "FILE.gguf": what error messages name.
  virtual std::string where() const = 0;

  // Both check the shape (error naming the source, tensor, expected and actual shape).
  // read_f32: widened / dequantized to f32. read_bf16: bf16 tensors copied, others rounded to
  // nearest even.
  virtual std::vector<float> read_f32(const std::string& name,
                                      const std::vector<int64_t>& expected_shape) const = 0;
  virtual std::vector<uint16_t> read_bf16(const std::string& name,
                                          const std::vector<int64_t>& expected_shape) const = 0;
  // True when the tensor is stored as bf16: the CPU loader keeps it bf16 (no widening) and
  // everything else f32, so f32 / f16 / quantized checkpoints compute exactly what HF computes on
  // them.
  virtual bool stored_as_bf16(const std::string& name) const = 0;
  // Bytes the tensor takes in the file (load progress).
  virtual int64_t stored_bytes(const std::string& name) const = 0;
  // The loader is done with this tensor: a memory-mapped source may drop its pages, so the load's
  // peak memory stays near the loaded model's instead of model + file.
  virtual void release(const std::string& name) const { (void)name; }
};

}  // namespace pagedkv
