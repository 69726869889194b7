#pragma once
// Reading Hugging Face checkpoints stored as safetensors: one model.safetensors, or shards
// model-XXXXX-of-YYYYY.safetensors listed by model.safetensors.index.json.
//
// File format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N,
// N bytes of JSON {"__metadata__": {...}, "<tensor>": {"dtype": "BF16", "shape": [..],
// "data_offsets": [begin, end]}, ...}, then the data buffer; offsets are relative to its start.
// Files are memory-mapped; every header is validated in full when the store opens (offsets in
// range, sized as dtype x shape, no overlaps and no holes, as the reference implementation
// demands), so later reads cannot run past a mapping.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/mapped_file.h"
#include "model/tensor_source.h"

namespace pagedkv {

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const std::byte* data;  // [bytes] inside the mapping; no alignment guarantee: memcpy from it
  size_t bytes;
  std::string file;  // path of the file holding it (for error messages)
};

// "[2, 3]": shapes in error messages.
std::string shape_str(const std::vector<int64_t>& shape);

// A checkpoint directory: model.safetensors, or sharded model-*.safetensors +
// model.safetensors.index.json (the index wins when both exist). `open` also accepts the path of a
// single .safetensors file. Move-only (owns the mappings); TensorInfo::data stays valid for the
// store's lifetime, moves included.
class TensorStore : public TensorSource {
 public:
  static TensorStore open(const std::filesystem::path& dir);

  bool contains(const std::string& name) const override;
  // NotFound error naming the dir and tensor; Unsupported for a tensor of a valid safetensors
  // dtype pagedkv has no DType for (I64, F64, ...): such tensors are listed but cannot be read.
  const TensorInfo& info(const std::string& name) const;
  std::vector<std::string> names() const override;  // sorted
  const std::filesystem::path& dir() const { return dir_; }

  // Checks the shape (error names file, tensor, expected and actual shape), upcasts bf16/f16/f32
  // to f32. fp8 tensors are Unsupported here (they need their checkpoint's scales).
  std::vector<float> read_f32(const std::string& name,
                              const std::vector<int64_t>& expected_shape) const override;
  // Like read_f32, as bf16 bits: bf16 tensors are copied, f32 / f16 rounded to nearest even.
  std::vector<uint16_t> read_bf16(const std::string& name,
                                  const std::vector<int64_t>& expected_shape) const override;
  bool stored_as_bf16(const std::string& name) const override;
  int64_t stored_bytes(const std::string& name) const override;
  std::string where() const override;
  // Drops the tensor's pages from this process (madvise): they were copied out.
  void release(const std::string& name) const override;

 private:
  void add_file(const std::filesystem::path& path);

  std::filesystem::path dir_;
  std::vector<MappedFile> files_;
  std::unordered_map<std::string, TensorInfo> tensors_;
  std::unordered_map<std::string, std::string> unsupported_;  // name -> "dtype X in file F"
};

}  // namespace pagedkv
