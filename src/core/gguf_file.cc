#include "core/gguf_file.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace pagedkv {

static_assert(std::endian::native == std::endian::little, "GGUF is read as little-endian");

namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF"
constexpr uint64_t kMaxDims = 4;         // GGML_MAX_DIMS

// A bounds-checked cursor over the mapped bytes; every read names the file and what it read.
class Cursor {
 public:
  Cursor(std::span<const std::byte> bytes, std::string file) : b_(bytes), file_(std::move(file)) {}

  size_t pos() const { return pos_; }
  size_t left() const { return b_.size() - pos_; }
  const std::string& file() const { return file_; }

  void need(uint64_t n, const std::string& what) const {
    PKV_CHECK(n <= left(), Corrupt, file_, ": ", what, " needs ", n, " bytes at offset ", pos_,
              " but only ", left(), " remain (file truncated?)");
  }
  template <typename T>
  T read(const std::string& what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string string(const std::string& what) {
    const uint64_t n = read<uint64_t>(what + " length");
    need(n, what);
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  }
  void skip(uint64_t n, const std::string& what) {
    need(n, what);
    pos_ += size_t(n);
  }

 private:
  std::span<const std::byte> b_;
  std::string file_;
  size_t pos_ = 0;
};

size_t scalar_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kU16:
    case GgufValueType::kI16:
      return 2;
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kF32:
      return 4;
    case GgufValueType::kU64:
    case GgufValueType::kI64:
    case GgufValueType::kF64:
      return 8;
    case GgufValueType::kString:
    case GgufValueType::kArray:
      return 0;
  }
  return 0;
}

bool is_integer(GgufValueType t) {
  return t == GgufValueType::kU8 || t == GgufValueType::kI8 || t == GgufValueType::kU16 ||
         t == GgufValueType::kI16 || t == GgufValueType::kU32 || t == GgufValueType::kI32 ||
         t == GgufValueType::kU64 || t == GgufValueType::kI64;
}

GgufValueType value_type(uint32_t raw, Cursor& c, const std::string& where) {
  PKV_CHECK(raw <= uint32_t(GgufValueType::kF64), Corrupt, c.file(), ": ", where,
            ": unknown value type ", raw);
  return GgufValueType(raw);
}

int64_t read_integer(Cursor& c, GgufValueType t, const std::string& where) {
  switch (t) {
    case GgufValueType::kU8:
      return c.read<uint8_t>(where);
    case GgufValueType::kI8:
      return c.read<int8_t>(where);
    case GgufValueType::kU16:
      return c.read<uint16_t>(where);
    case GgufValueType::kI16:
      return c.read<int16_t>(where);
    case GgufValueType::kU32:
      return c.read<uint32_t>(where);
    case GgufValueType::kI32:
      return c.read<int32_t>(where);
    case GgufValueType::kI64:
      return c.read<int64_t>(where);
    default: {
      const uint64_t u = c.read<uint64_t>(where);
      PKV_CHECK(u <= uint64_t(std::numeric_limits<int64_t>::max()), Corrupt, c.file(), ": ", where,
                ": u64 value ", u, " is out of range");
      return int64_t(u);
    }
  }
}

double read_float(Cursor& c, GgufValueType t, const std::string& where) {
  return t == GgufValueType::kF32 ? double(c.read<float>(where)) : c.read<double>(where);
}

void skip_value(Cursor& c, GgufValueType t, const std::string& where, int depth);

// Validates and skips an array's elements (nested arrays only).
void skip_array(Cursor& c, const std::string& where, int depth) {
  PKV_CHECK(depth < 8, Corrupt, c.file(), ": ", where, ": arrays nested too deep");
  const GgufValueType elem = value_type(c.read<uint32_t>(where + " element type"), c, where);
  const uint64_t n = c.read<uint64_t>(where + " count");
  if (size_t s = scalar_bytes(elem); s > 0) {
    PKV_CHECK(n <= c.left() / s, Corrupt, c.file(), ": ", where, ": array of ", n,
              " elements does not fit in the file");
    c.skip(n * s, where);
    return;
  }
  PKV_CHECK(n <= c.left() / 8, Corrupt, c.file(), ": ", where, ": array of ", n,
            " elements does not fit in the file");
  for (uint64_t i = 0; i < n; ++i) skip_value(c, elem, where, depth + 1);
}

void skip_value(Cursor& c, GgufValueType t, const std::string& where, int depth) {
  if (t == GgufValueType::kString) {
    c.skip(c.read<uint64_t>(where + " length"), where);
  } else if (t == GgufValueType::kArray) {
    skip_array(c, where, depth);
  } else {
    c.skip(scalar_bytes(t), where);
  }
}

GgufValue read_value(Cursor& c, GgufValueType t, const std::string& where) {
  if (is_integer(t)) return GgufValue(t, t, read_integer(c, t, where));
  switch (t) {
    case GgufValueType::kF32:
    case GgufValueType::kF64:
      return GgufValue(t, t, read_float(c, t, where));
    case GgufValueType::kBool: {
      const uint8_t b = c.read<uint8_t>(where);
      PKV_CHECK(b <= 1, Corrupt, c.file(), ": ", where, ": bool value ", int(b));
      return GgufValue(t, t, b != 0);
    }
    case GgufValueType::kString:
      return GgufValue(t, t, c.string(where));
    default:
      break;
  }
  // Array.
  const size_t start = c.pos();
  const GgufValueType elem = value_type(c.read<uint32_t>(where + " element type"), c, where);
  const uint64_t n = c.read<uint64_t>(where + " count");
  // Each element takes >= 1 byte (strings >= 8): a count the file cannot hold is corrupt, caught
  // before anything is reserved.
  const size_t min_bytes =
      elem == GgufValueType::kString ? 8 : std::max<size_t>(1, scalar_bytes(elem));
  PKV_CHECK(n <= c.left() / min_bytes, Corrupt, c.file(), ": ", where, ": array of ", n, " ",
            gguf_value_type_name(elem), " does not fit in the file");
  if (is_integer(elem) || elem == GgufValueType::kBool) {
    std::vector<int64_t> v(n);
    for (auto& x : v)
      x = elem == GgufValueType::kBool ? int64_t(c.read<uint8_t>(where))
                                       : read_integer(c, elem, where);
    return GgufValue(t, elem, std::move(v));
  }
  if (elem == GgufValueType::kF32 || elem == GgufValueType::kF64) {
    std::vector<double> v(n);
    for (auto& x : v) x = read_float(c, elem, where);
    return GgufValue(t, elem, std::move(v));
  }
  if (elem == GgufValueType::kString) {
    std::vector<std::string> v(n);
    for (auto& s : v) s = c.string(where);
    return GgufValue(t, elem, std::move(v));
  }
  // Nested arrays: rewind and skip with validation.
  Cursor probe = c;
  (void)start;
  for (uint64_t i = 0; i < n; ++i) skip_value(probe, elem, where, 1);
  c = probe;
  return GgufValue(t, elem, std::monostate{});
}

[[noreturn]] void wrong_kind(std::string_view key, GgufValueType have, const char* want) {
  fail(ErrorKind::kCorrupt,
       str_cat("GGUF metadata '", key, "' is ", gguf_value_type_name(have), ", expected ", want));
}

}  // namespace

const char* gguf_value_type_name(GgufValueType t) {
  static const char* const kNames[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                       "bool", "string", "array", "u64", "i64", "f64"};
  return uint32_t(t) <= 12 ? kNames[uint32_t(t)] : "unknown";
}

int64_t GgufValue::as_int(std::string_view key) const {
  if (auto* i = std::get_if<int64_t>(&v_)) return *i;
  if (auto* b = std::get_if<bool>(&v_)) return *b ? 1 : 0;
  wrong_kind(key, type_, "an integer");
}

double GgufValue::as_double(std::string_view key) const {
  if (auto* d = std::get_if<double>(&v_)) return *d;
  if (auto* i = std::get_if<int64_t>(&v_)) return double(*i);
  wrong_kind(key, type_, "a number");
}

bool GgufValue::as_bool(std::string_view key) const {
  if (auto* b = std::get_if<bool>(&v_)) return *b;
  wrong_kind(key, type_, "a bool");
}

const std::string& GgufValue::as_string(std::string_view key) const {
  if (auto* s = std::get_if<std::string>(&v_)) return *s;
  wrong_kind(key, type_, "a string");
}

const std::vector<int64_t>& GgufValue::as_int_array(std::string_view key) const {
  if (auto* v = std::get_if<std::vector<int64_t>>(&v_)) return *v;
  wrong_kind(key, type_, "an integer array");
}

std::vector<double> GgufValue::as_double_array(std::string_view key) const {
  if (auto* v = std::get_if<std::vector<double>>(&v_)) return *v;
  if (auto* v = std::get_if<std::vector<int64_t>>(&v_)) return {v->begin(), v->end()};
  wrong_kind(key, type_, "a number array");
}

const std::vector<std::string>& GgufValue::as_string_array(std::string_view key) const {
  if (auto* v = std::get_if<std::vector<std::string>>(&v_)) return *v;
  wrong_kind(key, type_, "a string array");
}

size_t GgufValue::array_size() const {
  if (auto* v = std::get_if<std::vector<int64_t>>(&v_)) return v->size();
  if (auto* v = std::get_if<std::vector<double>>(&v_)) return v->size();
  if (auto* v = std::get_if<std::vector<std::string>>(&v_)) return v->size();
  return 0;
}

int64_t GgufTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

std::vector<int64_t> GgufTensorInfo::shape() const { return {dims.rbegin(), dims.rend()}; }

GgufFile GgufFile::open(const std::filesystem::path& path) {
  GgufFile g;
  g.file_ = MappedFile::open(path);
  const std::string file = path.string();
  Cursor c(g.file_.bytes(), file);
  PKV_CHECK(c.left() >= 4 && c.read<uint32_t>("magic") == kMagic, Corrupt, file,
            ": not a GGUF file (no \"GGUF\" magic)");
  g.version_ = c.read<uint32_t>("version");
  PKV_CHECK(g.version_ != 1, Unsupported, file,
            ": GGUF version 1 (32-bit counts) is not supported; "
            "re-convert the model with a current llama.cpp");
  PKV_CHECK(g.version_ == 2 || g.version_ == 3, Unsupported, file, ": GGUF version ", g.version_,
            " (pagedkv reads versions 2 and 3)");
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  // A key/value takes >= 12 bytes, a tensor info >= 24: counts the file cannot hold are corrupt.
  PKV_CHECK(n_kv <= c.left() / 12, Corrupt, file, ": metadata count ", n_kv,
            " does not fit in the file");
  PKV_CHECK(n_tensors <= c.left() / 24, Corrupt, file, ": tensor count ", n_tensors,
            " does not fit in the file");

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.string(str_cat("metadata key ", i));
    const std::string where = str_cat("metadata '", key, "'");
    const GgufValueType t = value_type(c.read<uint32_t>(where + " type"), c, where);
    GgufValue v = read_value(c, t, where);
    PKV_CHECK(!g.metadata_.count(key), Corrupt, file, ": metadata key '", key, "' appears twice");
    g.metadata_.emplace(std::move(key), std::move(v));
  }
  if (const GgufValue* a = g.find("general.alignment")) {
    const int64_t al = a->as_int("general.alignment");
    PKV_CHECK(al > 0 && (al & (al - 1)) == 0, Corrupt, file, ": general.alignment ", al,
              " is not a power of two");
    g.alignment_ = uint64_t(al);
  }

  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = c.string(str_cat("tensor ", i, " name"));
    const std::string where = str_cat("tensor '", t.name, "'");
    const uint32_t n_dims = c.read<uint32_t>(where + " dimension count");
    PKV_CHECK(n_dims >= 1 && n_dims <= kMaxDims, Corrupt, file, ": ", where, " has ", n_dims,
              " dimensions (1 to ", kMaxDims, " allowed)");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = c.read<uint64_t>(where + " dimension");
      PKV_CHECK(dim <= uint64_t(std::numeric_limits<int64_t>::max()) &&
                    !__builtin_mul_overflow(numel, dim, &numel),
                Corrupt, file, ": ", where, ": dimensions overflow");
      t.dims.push_back(int64_t(dim));
    }
    t.type = c.read<uint32_t>(where + " type");
    const auto info = ggml_type_info(t.type);
    PKV_CHECK(info.has_value(), Corrupt, file, ": ", where, " has unknown ggml type ", t.type);
    PKV_CHECK(t.dims[0] % info->block_size == 0, Corrupt, file, ": ", where, ": row of ", t.dims[0],
              " elements is not a whole number of ", info->name, " blocks (", info->block_size,
              ")");
    uint64_t bytes = 0;
    PKV_CHECK(!__builtin_mul_overflow(numel / uint64_t(info->block_size),
                                      uint64_t(info->block_bytes), &bytes),
              Corrupt, file, ": ", where, ": size overflows");
    t.bytes = size_t(bytes);
    t.offset = c.read<uint64_t>(where + " offset");
    PKV_CHECK(t.offset % g.alignment_ == 0, Corrupt, file, ": ", where, ": offset ", t.offset,
              " is not a multiple of the alignment ", g.alignment_);
    PKV_CHECK(!g.by_name_.count(t.name), Corrupt, file, ": tensor '", t.name, "' appears twice");
    g.by_name_.emplace(t.name, g.tensors_.size());
    g.tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t data_start = (uint64_t(c.pos()) + g.alignment_ - 1) / g.alignment_ * g.alignment_;
  const uint64_t size = g.file_.size();
  PKV_CHECK(data_start <= size || g.tensors_.empty(), Corrupt, file,
            ": data section would start at ", data_start, ", past the end of the file (", size,
            " bytes)");
  const uint64_t data_size = data_start <= size ? size - data_start : 0;
  std::vector<const GgufTensorInfo*> order;
  for (GgufTensorInfo& t : g.tensors_) {
    PKV_CHECK(t.offset <= data_size && t.bytes <= data_size - t.offset, Corrupt, file, ": tensor '",
              t.name, "' [", t.offset, ", ", t.offset + t.bytes, ") runs past the data section (",
              data_size, " bytes; file truncated?)");
    t.data = g.file_.bytes().data() + data_start + t.offset;
    order.push_back(&t);
  }
  std::sort(order.begin(), order.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < order.size(); ++i)
    PKV_CHECK(order[i - 1]->offset + order[i - 1]->bytes <= order[i]->offset, Corrupt, file,
              ": tensors '", order[i - 1]->name, "' and '", order[i]->name, "' overlap");
  return g;
}

const GgufValue* GgufFile::find(std::string_view key) const {
  const auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const GgufValue& GgufFile::at(std::string_view key) const {
  const GgufValue* v = find(key);
  PKV_CHECK(v != nullptr, NotFound, path().string(), ": GGUF metadata has no '", key, "'");
  return *v;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace pagedkv
