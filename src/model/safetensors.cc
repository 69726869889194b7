#include "model/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "core/error.h"
#include "core/json_depth.h"
#include "core/mapped_file.h"
#include "model/json_brief.h"

namespace pagedkv {
namespace {

using nlohmann::json;

// safetensors stores little-endian data; we hand the bytes out as they are.
static_assert(std::endian::native == std::endian::little, "pagedkv assumes a little-endian host");

// Largest header the reference implementation accepts (100 MB); a bigger length is a corrupt file.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct DTypeSpec {
  size_t element_bytes;
  std::optional<DType> dtype;  // nullopt: a valid safetensors dtype pagedkv cannot represent
};

// The dtypes of the safetensors spec with whole-byte elements.
std::optional<DTypeSpec> lookup_dtype(const std::string& name) {
  static const std::map<std::string, DTypeSpec> kSpecs = {
      {"F32", {4, DType::kF32}},      {"F16", {2, DType::kF16}},
      {"BF16", {2, DType::kBF16}},    {"F8_E4M3", {1, DType::kFP8E4M3}},
      {"F64", {8, std::nullopt}},     {"I64", {8, std::nullopt}},
      {"U64", {8, std::nullopt}},     {"I32", {4, std::nullopt}},
      {"U32", {4, std::nullopt}},     {"I16", {2, std::nullopt}},
      {"U16", {2, std::nullopt}},     {"I8", {1, std::nullopt}},
      {"U8", {1, std::nullopt}},      {"BOOL", {1, std::nullopt}},
      {"F8_E5M2", {1, std::nullopt}},
  };
  auto it = kSpecs.find(name);
  if (it == kSpecs.end()) return std::nullopt;
  return it->second;
}

uint64_t read_u64_le(const std::byte* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// A JSON value that must be a non-negative integer.
bool as_u64(const json& v, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return true;
  }
  if (v.is_number_integer() && v.get<int64_t>() >= 0) {
    *out = uint64_t(v.get<int64_t>());
    return true;
  }
  return false;
}

struct ParsedTensor {
  TensorInfo info;
  std::optional<std::string> unsupported_dtype;
  uint64_t begin = 0, end = 0;
};

// Validates one header entry; `data` / `data_size` describe the file's data buffer.
ParsedTensor parse_entry(const std::string& file, const std::string& name, const json& entry,
                         const std::byte* data, uint64_t data_size) {
  const std::string where = str_cat(file, ": tensor '", name, "'");
  PKV_CHECK(entry.is_object(), Corrupt, where, ": header entry is not a JSON object");
  PKV_CHECK(entry.contains("dtype") && entry["dtype"].is_string(), Corrupt, where,
            ": missing or non-string \"dtype\"");
  PKV_CHECK(entry.contains("shape") && entry["shape"].is_array(), Corrupt, where,
            ": missing or non-array \"shape\"");
  PKV_CHECK(entry.contains("data_offsets") && entry["data_offsets"].is_array() &&
                entry["data_offsets"].size() == 2,
            Corrupt, where, ": \"data_offsets\" must be an array [begin, end]");

  const std::string dtype_name_str = entry["dtype"].get<std::string>();
  const std::optional<DTypeSpec> spec = lookup_dtype(dtype_name_str);
  PKV_CHECK(spec.has_value(), Corrupt, where, ": unknown dtype '", dtype_name_str,
            "' (known: F32 F16 BF16 F8_E4M3 F8_E5M2 F64 I64 U64 I32 U32 I16 U16 I8 U8 BOOL)");

  ParsedTensor t;
  t.info.name = name;
  t.info.file = file;
  uint64_t numel = 1;
  for (const json& d : entry["shape"]) {
    uint64_t dim = 0;
    PKV_CHECK(as_u64(d, &dim) && dim <= uint64_t(INT64_MAX), Corrupt, where,
              ": shape entries must be non-negative integers, got ", json_brief(d));
    PKV_CHECK(!__builtin_mul_overflow(numel, dim, &numel), Corrupt, where, ": shape ",
              shape_str(t.info.shape), " x ", dim, " overflows");
    t.info.shape.push_back(int64_t(dim));
  }
  uint64_t expected_bytes = 0;
  PKV_CHECK(!__builtin_mul_overflow(numel, uint64_t(spec->element_bytes), &expected_bytes), Corrupt,
            where, ": shape ", shape_str(t.info.shape), " overflows");

  PKV_CHECK(as_u64(entry["data_offsets"][0], &t.begin) && as_u64(entry["data_offsets"][1], &t.end),
            Corrupt, where, ": data_offsets must be non-negative integers, got [",
            json_brief(entry["data_offsets"][0]), ", ", json_brief(entry["data_offsets"][1]), "]");
  PKV_CHECK(t.begin <= t.end, Corrupt, where, ": data_offsets [", t.begin, ", ", t.end,
            "] has begin > end");
  PKV_CHECK(t.end <= data_size, Corrupt, where, ": data_offsets [", t.begin, ", ", t.end,
            "] run past the data buffer (", data_size, " bytes; file truncated?)");
  PKV_CHECK(t.end - t.begin == expected_bytes, Corrupt, where, ": data_offsets [", t.begin, ", ",
            t.end, "] hold ", t.end - t.begin, " bytes but dtype ", dtype_name_str, " x shape ",
            shape_str(t.info.shape), " needs ", expected_bytes);

  t.info.data = data + t.begin;
  t.info.bytes = size_t(expected_bytes);
  if (spec->dtype.has_value()) {
    t.info.dtype = *spec->dtype;
  } else {
    t.info.dtype = DType::kF32;  // never observed: info() refuses unsupported tensors
    t.unsupported_dtype = dtype_name_str;
  }
  return t;
}

// A plain file name inside the checkpoint directory (no directories, no "..").
bool is_plain_file_name(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\\') == std::string::npos && s.find('\0') == std::string::npos;
}

}  // namespace

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += str_cat(i ? ", " : "", shape[i]);
  return s + "]";
}

void TensorStore::add_file(const std::filesystem::path& path) {
  MappedFile mapped = MappedFile::open(path);
  const std::string file = path.string();
  const std::span<const std::byte> bytes = mapped.bytes();
  PKV_CHECK(bytes.size() >= 8, Corrupt, file, ": ", bytes.size(),
            " bytes, shorter than the 8-byte safetensors header length");
  const uint64_t header_len = read_u64_le(bytes.data());
  PKV_CHECK(header_len <= bytes.size() - 8, Corrupt, file, ": header length ", header_len,
            " runs past the end of the file (", bytes.size(), " bytes; truncated?)");
  PKV_CHECK(header_len <= kMaxHeaderBytes, Corrupt, file, ": header length ", header_len,
            " exceeds the ", kMaxHeaderBytes, "-byte limit");
  const char* text = reinterpret_cast<const char*>(bytes.data() + 8);
  check_json_depth(std::string_view(text, header_len), file + ": header");
  const json header = json::parse(text, text + header_len, nullptr, /*allow_exceptions=*/false);
  PKV_CHECK(!header.is_discarded(), Corrupt, file, ": header is not valid JSON");
  PKV_CHECK(header.is_object(), Corrupt, file, ": header is not a JSON object");

  const std::byte* data = bytes.data() + 8 + header_len;  // [data_size] bytes
  const uint64_t data_size = bytes.size() - 8 - header_len;
  std::vector<ParsedTensor> parsed;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      PKV_CHECK(entry.is_object(), Corrupt, file, ": \"__metadata__\" is not a JSON object");
      continue;
    }
    PKV_CHECK(!contains(name), Corrupt, file, ": tensor '", name, "' also appears in ",
              tensors_.count(name) ? tensors_.at(name).file : unsupported_.at(name));
    parsed.push_back(parse_entry(file, name, entry, data, data_size));
  }

  // The tensors must tile the data buffer exactly: no overlaps, no holes, nothing trailing.
  std::vector<const ParsedTensor*> order;
  for (const ParsedTensor& t : parsed) order.push_back(&t);
  std::sort(order.begin(), order.end(), [](const ParsedTensor* a, const ParsedTensor* b) {
    return std::pair(a->begin, a->end) < std::pair(b->begin, b->end);
  });
  uint64_t covered = 0;
  const ParsedTensor* prev = nullptr;
  for (const ParsedTensor* t : order) {
    PKV_CHECK(t->begin >= covered, Corrupt, file, ": tensor '", t->info.name, "' [", t->begin, ", ",
              t->end, ") overlaps tensor '", prev ? prev->info.name : "", "' ending at ", covered);
    PKV_CHECK(t->begin == covered, Corrupt, file, ": unused bytes [", covered, ", ", t->begin,
              ") before tensor '", t->info.name, "' (the data buffer must have no holes)");
    covered = t->end;
    prev = t;
  }
  PKV_CHECK(covered == data_size, Corrupt, file, ": ", data_size - covered,
            " trailing bytes after the last tensor (data buffer is ", data_size, " bytes)");

  // Validated: commit. The mapping's address does not change when the MappedFile moves.
  for (ParsedTensor& t : parsed) {
    if (t.unsupported_dtype) {
      unsupported_.emplace(t.info.name, str_cat("dtype ", *t.unsupported_dtype, " in ", file));
    } else {
      std::string name = t.info.name;
      tensors_.emplace(std::move(name), std::move(t.info));
    }
  }
  files_.push_back(std::move(mapped));
}

TensorStore TensorStore::open(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  TensorStore store;
  store.dir_ = dir;
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) {
    store.add_file(dir);
    return store;
  }
  PKV_CHECK(fs::is_directory(dir, ec), NotFound, "checkpoint directory not found: ", dir.string());

  const fs::path index_path = dir / "model.safetensors.index.json";
  const fs::path single_path = dir / "model.safetensors";
  if (!fs::exists(index_path, ec)) {
    PKV_CHECK(fs::exists(single_path, ec), NotFound, "no model.safetensors or ",
              "model.safetensors.index.json in ", dir.string());
    store.add_file(single_path);
    return store;
  }

  const std::string index_file = index_path.string();
  const MappedFile index_map = MappedFile::open(index_path);
  const char* text = reinterpret_cast<const char*>(index_map.bytes().data());
  check_json_depth(std::string_view(text, index_map.size()), index_file);
  const json index = json::parse(text, text + index_map.size(), nullptr, false);
  PKV_CHECK(!index.is_discarded() && index.is_object(), Corrupt, index_file,
            ": not a valid JSON object");
  PKV_CHECK(index.contains("weight_map") && index["weight_map"].is_object(), Corrupt, index_file,
            ": missing \"weight_map\" object");
  std::set<std::string> shards;  // sorted: shards open in file order
  for (const auto& [tensor, shard] : index["weight_map"].items()) {
    PKV_CHECK(shard.is_string() && is_plain_file_name(shard.get<std::string>()), Corrupt,
              index_file, ": tensor '", tensor, "' maps to ", json_brief(shard),
              ", not a file name in the checkpoint directory");
    const std::string name = shard.get<std::string>();
    PKV_CHECK(fs::is_regular_file(dir / name, ec), NotFound, index_file, " maps tensor '", tensor,
              "' to shard ", name, ", but ", (dir / name).string(), " does not exist");
    shards.insert(name);
  }
  PKV_CHECK(!shards.empty(), Corrupt, index_file, ": \"weight_map\" is empty");
  for (const std::string& shard : shards) store.add_file(dir / shard);
  for (const auto& [tensor, shard] : index["weight_map"].items()) {
    const std::string want = (dir / shard.get<std::string>()).string();
    const auto it = store.tensors_.find(tensor);
    const std::string actual = it != store.tensors_.end()         ? it->second.file
                               : store.unsupported_.count(tensor) ? store.unsupported_.at(tensor)
                                                                  : std::string("no shard");
    PKV_CHECK(actual == want || actual.ends_with(" in " + want), Corrupt, index_file,
              " maps tensor '", tensor, "' to ", want, ", but it is in ", actual);
  }
  return store;
}

bool TensorStore::contains(const std::string& name) const {
  return tensors_.count(name) != 0 || unsupported_.count(name) != 0;
}

const TensorInfo& TensorStore::info(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it != tensors_.end()) return it->second;
  const auto un = unsupported_.find(name);
  PKV_CHECK(un == unsupported_.end(), Unsupported, "tensor '", name, "' has ", un->second,
            ", which pagedkv cannot load (F32, F16, BF16 or F8_E4M3 only)");
  fail(ErrorKind::kNotFound,
       str_cat("tensor '", name, "' not found in checkpoint ", dir_.string()));
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  out.reserve(tensors_.size() + unsupported_.size());
  for (const auto& [name, info] : tensors_) out.push_back(name);
  for (const auto& [name, what] : unsupported_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<float> TensorStore::read_f32(const std::string& name,
                                         const std::vector<int64_t>& expected_shape) const {
  const TensorInfo& t = info(name);
  PKV_CHECK(t.shape == expected_shape, InvalidArgument, t.file, ": tensor '", name, "' has shape ",
            shape_str(t.shape), ", expected ", shape_str(expected_shape));
  const size_t n = t.bytes / dtype_size(t.dtype);
  std::vector<float> out(n);  // [numel]
  switch (t.dtype) {
    case DType::kF32:
      if (n > 0) std::memcpy(out.data(), t.data, t.bytes);
      break;
    case DType::kBF16:
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        out[i] = t.dtype == DType::kBF16 ? bf16_to_f32(h) : f16_to_f32(h);
      }
      break;
    case DType::kFP8E4M3:
      fail(ErrorKind::kUnsupported, str_cat(t.file, ": tensor '", name, "' is F8_E4M3; fp8 ",
                                            "checkpoints (with their scales) are not supported"));
  }
  return out;
}

std::vector<uint16_t> TensorStore::read_bf16(const std::string& name,
                                             const std::vector<int64_t>& expected_shape) const {
  const TensorInfo& t = info(name);
  if (t.dtype != DType::kBF16) {
    const std::vector<float> f = read_f32(name, expected_shape);
    std::vector<uint16_t> out(f.size());  // [numel]
    for (size_t i = 0; i < f.size(); ++i) out[i] = f32_to_bf16(f[i]);
    return out;
  }
  PKV_CHECK(t.shape == expected_shape, InvalidArgument, t.file, ": tensor '", name, "' has shape ",
            shape_str(t.shape), ", expected ", shape_str(expected_shape));
  std::vector<uint16_t> out(t.bytes / 2);  // [numel]
  if (t.bytes > 0) std::memcpy(out.data(), t.data, t.bytes);
  return out;
}

bool TensorStore::stored_as_bf16(const std::string& name) const {
  return info(name).dtype == DType::kBF16;
}

int64_t TensorStore::stored_bytes(const std::string& name) const {
  return int64_t(info(name).bytes);
}

std::string TensorStore::where() const { return "checkpoint " + dir_.string(); }

void TensorStore::release(const std::string& name) const {
  const TensorInfo& t = info(name);
  release_pages(t.data, t.bytes);
}

}  // namespace pagedkv
