#pragma once
// GgufFile: a GGUF file (llama.cpp's model format, versions 2 and 3) memory-mapped and validated.
//
// Layout (ggml/docs/gguf.md): "GGUF", u32 version, u64 tensor count, u64 metadata count; metadata
// key/value pairs (key: u64 length + UTF-8 bytes; value: u32 type + payload, arrays as u32 element
// type + u64 count + elements); tensor infos (name, u32 n_dims, u64 dims[n_dims] innermost first,
// u32 ggml type, u64 offset); then, aligned to general.alignment (default 32), the data section,
// which every tensor offset is relative to. All little-endian.
//
// Everything is checked when the file opens — each length against the bytes left, counts against
// what the file can hold, dims and types, offsets aligned and inside the data section, tensors not
// overlapping — so a truncated or malicious file fails with Error(Corrupt) naming what is wrong,
// and later reads of tensor bytes cannot run past the mapping. Opening costs a walk over the
// metadata (a 262k-token vocabulary is ~10 ms); tensor bytes stay in the page cache until read.
//
// Core owns the reader because two layers need it: the model layer reads config and tensors
// (model/gguf_checkpoint.h), the tokenizer layer the vocabulary (tokenizer/gguf_vocab.h).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/ggml_type.h"
#include "core/mapped_file.h"

namespace pagedkv {

// GGUF metadata value types (gguf.md `gguf_metadata_value_type`).
enum class GgufValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
const char* gguf_value_type_name(GgufValueType t);

// One metadata value. Integers of every width are held as int64 (a u64 above INT64_MAX is
// refused at open), floats as double, arrays by element kind. Nested arrays are validated and
// skipped (no GGUF key pagedkv reads uses them): their accessors throw.
class GgufValue {
 public:
  using Storage = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>,
                               std::vector<double>, std::vector<std::string>, std::monostate>;
  GgufValue(GgufValueType type, GgufValueType elem, Storage v)
      : type_(type), elem_(elem), v_(std::move(v)) {}

  GgufValueType type() const { return type_; }
  GgufValueType element_type() const { return elem_; }  // arrays
  bool is_array() const { return type_ == GgufValueType::kArray; }

  // Typed access; Error(Corrupt) naming `key` when the value is of another kind. as_double
  // accepts integers too, as_int bools.
  int64_t as_int(std::string_view key) const;
  double as_double(std::string_view key) const;
  bool as_bool(std::string_view key) const;
  const std::string& as_string(std::string_view key) const;
  const std::vector<int64_t>& as_int_array(std::string_view key) const;  // int / bool arrays
  std::vector<double> as_double_array(std::string_view key) const;       // int or float arrays
  const std::vector<std::string>& as_string_array(std::string_view key) const;
  size_t array_size() const;  // 0 for scalars

 private:
  GgufValueType type_, elem_;
  Storage v_;
};

struct GgufTensorInfo {
  std::string name;
  uint32_t type = 0;                // ggml type id (ggml_type_info)
  std::vector<int64_t> dims;        // ggml order: dims[0] is the innermost (contiguous) dimension
  uint64_t offset = 0;              // relative to the data section
  const std::byte* data = nullptr;  // [bytes] inside the mapping
  size_t bytes = 0;
  int64_t numel() const;
  // Shape in row-major (torch / safetensors) order: dims reversed.
  std::vector<int64_t> shape() const;
};

class GgufFile {
 public:
  // Maps and validates the file (NotFound / Corrupt / Unsupported for v1 files, naming the file).
  static GgufFile open(const std::filesystem::path& path);

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  const std::filesystem::path& path() const { return file_.path(); }

  const std::map<std::string, GgufValue, std::less<>>& metadata() const { return metadata_; }
  const GgufValue* find(std::string_view key) const;
  // NotFound naming the key and the file.
  const GgufValue& at(std::string_view key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::map<std::string, GgufValue, std::less<>> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> by_name_;
};

}  // namespace pagedkv
