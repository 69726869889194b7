#include "model/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/random.h"

namespace pagedkv {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() / str_cat("pagedkv_safetensors_", ::getpid(), "_", counter++);
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(f.good()) << path;
}

// A safetensors file in memory: header JSON + data buffer, serialized the way the reference
// writer does it (header padded with spaces to a multiple of 8).
struct FileImage {
  json header = json::object();
  std::string data;  // [data buffer bytes]

  // Appends a tensor with random contents of `dtype` and `shape`; returns its values as f32.
  std::vector<float> add(Rng& rng, const std::string& name, const std::string& dtype,
                         const std::vector<int64_t>& shape) {
    size_t n = 1;
    for (int64_t d : shape) n *= size_t(d);
    std::vector<float> values(n);  // [numel]
    const size_t begin = data.size();
    for (size_t i = 0; i < n; ++i) {
      const float x = rng.normal(0.f, 2.f);
      if (dtype == "F32") {
        values[i] = x;
        data.append(reinterpret_cast<const char*>(&x), 4);
      } else if (dtype == "BF16" || dtype == "F16") {
        const uint16_t h = dtype == "BF16" ? f32_to_bf16(x) : f32_to_f16(x);
        values[i] = dtype == "BF16" ? bf16_to_f32(h) : f16_to_f32(h);
        data.append(reinterpret_cast<const char*>(&h), 2);
      } else if (dtype == "I64") {
        const int64_t v = rng.uniform_int(-1000, 1000);
        values[i] = float(v);
        data.append(reinterpret_cast<const char*>(&v), 8);
      } else {
        ADD_FAILURE() << "test writer has no dtype " << dtype;
      }
    }
    header[name] = {{"dtype", dtype}, {"shape", shape}, {"data_offsets", {begin, data.size()}}};
    return values;
  }

  std::string serialize() const {
    std::string h = header.dump();
    h.append((8 - h.size() % 8) % 8, ' ');
    const uint64_t n = h.size();
    std::string out(reinterpret_cast<const char*>(&n), 8);
    return out + h + data;
  }
};

// Runs `f`, expects a pagedkv::Error of `kind` whose message contains every one of `parts`.
void expect_error(const std::function<void()>& f, ErrorKind kind,
                  const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected a " << error_kind_name(kind) << " error, got none";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    for (const std::string& p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message lacks '" << p << "': " << e.what();
    }
  }
}

// A valid three-dtype file (plus a zero-size tensor and metadata) with its expected values.
struct ValidFile {
  FileImage image;
  std::vector<float> a, b, c;  // "a" F32 [3, 5], "b.weight" BF16 [4], "c" F16 [2, 3]
};

ValidFile make_valid(Rng& rng) {
  ValidFile v;
  v.image.header["__metadata__"] = {{"format", "pt"}};
  v.a = v.image.add(rng, "a", "F32", {3, 5});
  v.b = v.image.add(rng, "b.weight", "BF16", {4});
  v.c = v.image.add(rng, "c", "F16", {2, 3});
  v.image.add(rng, "empty", "F32", {0, 4});
  return v;
}

TEST(TensorStore, ReadsEveryDtypeOfASingleFile) {
  Rng rng(seed_from_env(11));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  TempDir dir;
  ValidFile v = make_valid(rng);
  write_bytes(dir.path() / "model.safetensors", v.image.serialize());

  const TensorStore store = TensorStore::open(dir.path());
  EXPECT_EQ(store.names(), (std::vector<std::string>{"a", "b.weight", "c", "empty"}));
  EXPECT_TRUE(store.contains("b.weight"));
  EXPECT_FALSE(store.contains("b"));
  const TensorInfo& a = store.info("a");
  EXPECT_EQ(a.name, "a");
  EXPECT_EQ(a.dtype, DType::kF32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(a.bytes, 60u);
  EXPECT_EQ(a.file, (dir.path() / "model.safetensors").string());
  EXPECT_EQ(store.info("b.weight").dtype, DType::kBF16);
  EXPECT_EQ(store.info("c").dtype, DType::kF16);
  EXPECT_EQ(store.info("c").bytes, 12u);

  EXPECT_EQ(store.read_f32("a", {3, 5}), v.a);
  EXPECT_EQ(store.read_f32("b.weight", {4}), v.b);
  EXPECT_EQ(store.read_f32("c", {2, 3}), v.c);
  EXPECT_TRUE(store.read_f32("empty", {0, 4}).empty());

  // The path of the file itself opens the same way.
  const TensorStore direct = TensorStore::open(dir.path() / "model.safetensors");
  EXPECT_EQ(direct.read_f32("c", {2, 3}), v.c);
}

TEST(TensorStore, ShapeMismatchAndMissingTensorNameEverything) {
  Rng rng(seed_from_env(12));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  TempDir dir;
  write_bytes(dir.path() / "model.safetensors", make_valid(rng).image.serialize());
  const TensorStore store = TensorStore::open(dir.path());
  const std::string file = (dir.path() / "model.safetensors").string();
  expect_error(
      [&] {
        store.read_f32("a", {5, 3});
      },
      ErrorKind::kInvalidArgument, {file, "'a'", "[3, 5]", "expected [5, 3]"});
  expect_error([&] { store.read_f32("a", {15}); }, ErrorKind::kInvalidArgument, {"[15]"});
  expect_error([&] { store.info("lm_head.weight"); }, ErrorKind::kNotFound,
               {"lm_head.weight", dir.path().string()});
  expect_error([&] { store.read_f32("missing", {1}); }, ErrorKind::kNotFound, {"missing"});
}

TEST(TensorStore, StoreStaysValidWhenMoved) {
  Rng rng(seed_from_env(13));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  TempDir dir;
  ValidFile v = make_valid(rng);
  write_bytes(dir.path() / "model.safetensors", v.image.serialize());
  TensorStore first = TensorStore::open(dir.path());
  const std::byte* data = first.info("a").data;
  std::vector<TensorStore> stores;
  stores.push_back(std::move(first));
  stores.push_back(TensorStore::open(dir.path()));  // may reallocate the vector
  EXPECT_EQ(stores[0].info("a").data, data);
  EXPECT_EQ(stores[0].read_f32("a", {3, 5}), v.a);
  EXPECT_EQ(stores[1].read_f32("b.weight", {4}), v.b);
}

TEST(TensorStore, MalformedFilesGiveCorruptErrorsNamingFileAndTensor) {
  Rng rng(seed_from_env(14));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const ValidFile valid = make_valid(rng);

  struct Case {
    std::string what;
    std::function<std::string(FileImage)> make;  // the file's bytes
    std::vector<std::string> message_parts;
  };
  auto edit = [](std::function<void(FileImage&)> f) {
    return [f](FileImage img) {
      f(img);
      return img.serialize();
    };
  };
  const std::vector<Case> cases = {
      {"shorter than 8 bytes",
       [](FileImage) { return std::string("\x10\0\0\0\0", 5); },
       {"5 bytes", "shorter than"}},
      {"empty file", [](FileImage) { return std::string(); }, {"0 bytes"}},
      {"header length past end of file",
       [](FileImage img) {
         std::string s = img.serialize();
         const uint64_t n = s.size();  // claims more header than the file holds
         std::memcpy(s.data(), &n, 8);
         return s;
       },
       {"header length", "past the end"}},
      {"huge header length",
       [](FileImage img) {
         std::string s = img.serialize();
         const uint64_t n = ~uint64_t(0) - 4;
         std::memcpy(s.data(), &n, 8);
         return s;
       },
       {"header length"}},
      {"bad header JSON",
       [](FileImage img) {
         std::string s = img.serialize();
         s[8 + 1] = '{';  // "{{": no longer JSON
         return s;
       },
       {"not valid JSON"}},
      {"header not an object",
       [](FileImage) {
         const std::string h = "[1, 2]  ";
         const uint64_t n = h.size();
         return std::string(reinterpret_cast<const char*>(&n), 8) + h;
       },
       {"not a JSON object"}},
      {"unknown dtype",
       edit([](FileImage& i) { i.header["c"]["dtype"] = "Q4_K"; }),
       {"'c'", "unknown dtype 'Q4_K'"}},
      {"dtype not a string",
       edit([](FileImage& i) { i.header["c"]["dtype"] = 7; }),
       {"'c'", "dtype"}},
      {"offsets past the data",
       edit([](FileImage& i) { i.header["c"]["data_offsets"][1] = 1 << 20; }),
       {"'c'", "run past the data buffer"}},
      {"begin after end",
       edit([](FileImage& i) {
         i.header["a"]["data_offsets"] = {8, 4};
       }),
       {"'a'", "begin > end"}},
      {"offsets not matching dtype x shape",
       edit([](FileImage& i) {
         i.header["a"]["shape"] = {3, 4};
       }),
       {"'a'", "60 bytes", "F32 x shape [3, 4] needs 48"}},
      {"dtype size mismatch",
       edit([](FileImage& i) { i.header["a"]["dtype"] = "BF16"; }),
       {"'a'", "needs 30"}},
      {"negative dimension",
       edit([](FileImage& i) { i.header["b.weight"]["shape"] = {-4}; }),
       {"'b.weight'", "non-negative"}},
      {"overflowing shape",
       edit([](FileImage& i) {
         i.header["b.weight"]["shape"] = {1ll << 40, 1ll << 40};
       }),
       {"'b.weight'", "overflows"}},
      {"missing data_offsets",
       edit([](FileImage& i) { i.header["c"].erase("data_offsets"); }),
       {"'c'", "data_offsets"}},
      {"entry not an object",
       edit([](FileImage& i) { i.header["c"] = "F16"; }),
       {"'c'", "not a JSON object"}},
      {"overlapping tensors",
       edit([](FileImage& i) {
         i.header["c"]["data_offsets"] = i.header["a"]["data_offsets"];
         i.header["c"]["dtype"] = "F32";
         i.header["c"]["shape"] = {15};
       }),
       {"overlaps"}},
      {"hole in the data buffer",
       edit([](FileImage& i) {
         i.header.erase("b.weight");  // its 8 bytes stay in the buffer, unclaimed
       }),
       {"unused bytes", "'c'"}},
      {"trailing bytes", edit([](FileImage& i) { i.data += "xyz"; }), {"3 trailing bytes"}},
      {"metadata not an object",
       edit([](FileImage& i) { i.header["__metadata__"] = 3; }),
       {"__metadata__"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    const fs::path file = dir.path() / "model.safetensors";
    write_bytes(file, c.make(valid.image));
    std::vector<std::string> parts = c.message_parts;
    parts.push_back(file.string());
    expect_error([&] { TensorStore::open(dir.path()); }, ErrorKind::kCorrupt, parts);
  }
}

TEST(TensorStore, UnsupportedDtypeIsListedButNotReadable) {
  Rng rng(seed_from_env(15));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  TempDir dir;
  ValidFile v = make_valid(rng);
  v.image.add(rng, "position_ids", "I64", {2, 3});
  write_bytes(dir.path() / "model.safetensors", v.image.serialize());
  const TensorStore store = TensorStore::open(dir.path());
  EXPECT_TRUE(store.contains("position_ids"));
  EXPECT_EQ(store.names().size(), 5u);
  expect_error([&] { store.info("position_ids"); }, ErrorKind::kUnsupported,
               {"position_ids", "I64", "model.safetensors"});
  EXPECT_EQ(store.read_f32("a", {3, 5}), v.a);
}

// Every truncation of a valid file, and random byte corruptions of its header, must give an
// Error or a store whose every tensor reads back without touching memory outside the mapping
// (which ASan would report).
TEST(TensorStore, TruncatedAndCorruptedFilesNeverCrash) {
  Rng rng(seed_from_env(16));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  const std::string bytes = make_valid(rng).image.serialize();
  TempDir dir;
  const fs::path file = dir.path() / "model.safetensors";
  for (size_t len = 0; len < bytes.size(); ++len) {
    write_bytes(file, bytes.substr(0, len));
    EXPECT_THROW(TensorStore::open(dir.path()), Error) << "truncated to " << len;
  }
  const uint64_t header_len = [&] {
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    return n;
  }();
  int opened = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string corrupt = bytes;
    const int flips = int(rng.uniform_int(1, 3));
    for (int f = 0; f < flips; ++f) {
      const size_t at = size_t(rng.uniform_int(0, int64_t(8 + header_len) - 1));
      corrupt[at] = char(rng.uniform_int(0, 255));
    }
    write_bytes(file, corrupt);
    try {
      const TensorStore store = TensorStore::open(dir.path());
      ++opened;
      for (const std::string& name : store.names()) {
        try {
          const TensorInfo& t = store.info(name);
          const std::vector<float> values = store.read_f32(name, t.shape);
          EXPECT_EQ(values.size() * dtype_size(t.dtype), t.bytes) << name;
        } catch (const Error&) {
        }
      }
    } catch (const Error&) {
    }
  }
  RecordProperty("corrupted_headers_that_opened", opened);
}

// Writes shards "s1.safetensors", "s2.safetensors" and an index mapping their tensors.
struct Sharded {
  std::vector<float> a, b, c, d;
  json index;
};

Sharded write_sharded(Rng& rng, const fs::path& dir) {
  Sharded s;
  FileImage one, two;
  s.a = one.add(rng, "a", "F32", {2, 2});
  s.b = one.add(rng, "b", "BF16", {3});
  s.c = two.add(rng, "c", "F16", {5});
  s.d = two.add(rng, "d", "F32", {1, 2, 3});
  write_bytes(dir / "model-00001-of-00002.safetensors", one.serialize());
  write_bytes(dir / "model-00002-of-00002.safetensors", two.serialize());
  s.index = {{"metadata", {{"total_size", 50}}},
             {"weight_map",
              {{"a", "model-00001-of-00002.safetensors"},
               {"b", "model-00001-of-00002.safetensors"},
               {"c", "model-00002-of-00002.safetensors"},
               {"d", "model-00002-of-00002.safetensors"}}}};
  write_bytes(dir / "model.safetensors.index.json", s.index.dump(2));
  return s;
}

TEST(TensorStore, ReadsShardedCheckpoints) {
  Rng rng(seed_from_env(17));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  TempDir dir;
  const Sharded s = write_sharded(rng, dir.path());
  const TensorStore store = TensorStore::open(dir.path());
  EXPECT_EQ(store.names(), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(store.read_f32("a", {2, 2}), s.a);
  EXPECT_EQ(store.read_f32("b", {3}), s.b);
  EXPECT_EQ(store.read_f32("c", {5}), s.c);
  EXPECT_EQ(store.read_f32("d", {1, 2, 3}), s.d);
  EXPECT_EQ(store.info("a").file, (dir.path() / "model-00001-of-00002.safetensors").string());
  EXPECT_EQ(store.info("d").file, (dir.path() / "model-00002-of-00002.safetensors").string());
}

TEST(TensorStore, BadShardIndexesGiveClearErrors) {
  Rng rng(seed_from_env(18));
  SCOPED_TRACE(str_cat("seed=", rng.seed()));
  struct Case {
    std::string what;
    std::function<void(const fs::path&, json&)> edit;  // may also touch the files
    ErrorKind kind;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"index names a missing shard",
       [](const fs::path&, json& idx) {
         idx["weight_map"]["c"] = "model-00003-of-00003.safetensors";
       },
       ErrorKind::kNotFound,
       {"'c'", "model-00003-of-00003.safetensors", "does not exist"}},
      {"index maps a tensor to the wrong shard",
       [](const fs::path&, json& idx) {
         idx["weight_map"]["c"] = "model-00001-of-00002.safetensors";
       },
       ErrorKind::kCorrupt,
       {"'c'", "model-00001-of-00002.safetensors", "model-00002-of-00002"}},
      {"index names a tensor no shard has",
       [](const fs::path&, json& idx) {
         idx["weight_map"]["e"] = "model-00001-of-00002.safetensors";
       },
       ErrorKind::kCorrupt,
       {"'e'", "no shard"}},
      {"shard outside the directory",
       [](const fs::path&, json& idx) {
         idx["weight_map"]["c"] = "../model-00002-of-00002.safetensors";
       },
       ErrorKind::kCorrupt,
       {"'c'", "not a file name"}},
      {"weight_map missing",
       [](const fs::path&, json& idx) { idx.erase("weight_map"); },
       ErrorKind::kCorrupt,
       {"weight_map"}},
      {"weight_map entry not a string",
       [](const fs::path&, json& idx) { idx["weight_map"]["a"] = 1; },
       ErrorKind::kCorrupt,
       {"'a'"}},
      {"index is not JSON",
       [](const fs::path&, json& idx) { idx = "}{"; },
       ErrorKind::kCorrupt,
       {"not a valid JSON object"}},
      {"a tensor in two shards",
       [](const fs::path& dir, json&) {
         Rng r(5);
         FileImage two;
         two.add(r, "c", "F16", {5});
         two.add(r, "a", "F32", {2, 2});
         write_bytes(dir / "model-00002-of-00002.safetensors", two.serialize());
       },
       ErrorKind::kCorrupt,
       {"'a'", "also appears in", "model-00001-of-00002.safetensors"}},
      {"a truncated shard",
       [](const fs::path& dir, json&) {
         const fs::path p = dir / "model-00002-of-00002.safetensors";
         fs::resize_file(p, fs::file_size(p) - 1);
       },
       ErrorKind::kCorrupt,
       {"model-00002-of-00002.safetensors", "'d'", "past the data buffer"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    TempDir dir;
    Sharded s = write_sharded(rng, dir.path());
    c.edit(dir.path(), s.index);
    write_bytes(dir.path() / "model.safetensors.index.json",
                s.index.is_string() ? s.index.get<std::string>() : s.index.dump());
    std::vector<std::string> parts = c.parts;
    expect_error([&] { TensorStore::open(dir.path()); }, c.kind, parts);
  }
}

TEST(TensorStore, MissingCheckpointIsNotFound) {
  TempDir dir;
  expect_error([&] { TensorStore::open(dir.path() / "nope"); }, ErrorKind::kNotFound, {"nope"});
  expect_error([&] { TensorStore::open(dir.path()); }, ErrorKind::kNotFound,
               {"no model.safetensors", dir.path().string()});
}

// ---- The committed HF fixtures (testdata/, made by tools/make_fixtures.py) ----

const char* const kFamilies[] = {"llama3", "qwen3", "gemma3", "llama4"};

json read_json(const fs::path& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << path;
  return json::parse(f);
}

TEST(TensorStoreFixtures, ShapesMatchTheirConfigs) {
  for (const char* family : kFamilies) {
    SCOPED_TRACE(family);
    const fs::path dir = fs::path(PAGEDKV_TESTDATA_DIR) / family;
    const json cfg = read_json(dir / "config.json");
    const TensorStore store = TensorStore::open(dir);
    const int64_t hidden = cfg["hidden_size"], vocab = cfg["vocab_size"];
    const int64_t hq = cfg["num_attention_heads"], hkv = cfg["num_key_value_heads"];
    const int64_t d = cfg["head_dim"], layers = cfg["num_hidden_layers"];
    EXPECT_EQ(store.info("model.embed_tokens.weight").shape, (std::vector<int64_t>{vocab, hidden}));
    EXPECT_EQ(store.contains("lm_head.weight"), !cfg["tie_word_embeddings"].get<bool>());
    for (int64_t l = 0; l < layers; ++l) {
      const std::string p = str_cat("model.layers.", l, ".self_attn.");
      EXPECT_EQ(store.info(p + "q_proj.weight").shape, (std::vector<int64_t>{hq * d, hidden}));
      EXPECT_EQ(store.info(p + "k_proj.weight").shape, (std::vector<int64_t>{hkv * d, hidden}));
      EXPECT_EQ(store.info(p + "v_proj.weight").shape, (std::vector<int64_t>{hkv * d, hidden}));
      EXPECT_EQ(store.info(p + "o_proj.weight").shape, (std::vector<int64_t>{hidden, hq * d}));
    }
    for (const std::string& name : store.names()) {
      EXPECT_EQ(store.info(name).dtype, DType::kF32) << name;
    }
  }
}

TEST(TensorStoreFixtures, Bf16ShardsAreTheRoundedF32Weights) {
  for (const char* family : kFamilies) {
    SCOPED_TRACE(family);
    const fs::path dir = fs::path(PAGEDKV_TESTDATA_DIR) / family;
    const TensorStore f32 = TensorStore::open(dir);
    const TensorStore bf16 = TensorStore::open(dir / "bf16");
    ASSERT_EQ(f32.names(), bf16.names());
    std::set<std::string> files;
    for (const std::string& name : bf16.names()) {
      const TensorInfo& t = bf16.info(name);
      files.insert(t.file);
      ASSERT_EQ(t.dtype, DType::kBF16) << name;
      const std::vector<float> want = f32.read_f32(name, t.shape);
      const std::vector<float> got = bf16.read_f32(name, t.shape);
      ASSERT_EQ(got.size(), want.size()) << name;
      size_t mismatches = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        mismatches += f32_bits(got[i]) != f32_bits(round_through(DType::kBF16, want[i]));
      }
      EXPECT_EQ(mismatches, 0u) << name;
      EXPECT_GT(std::count_if(got.begin(), got.end(), [](float x) { return x != 0.f; }), 0) << name;
    }
    EXPECT_EQ(files.size(), 2u);  // really sharded
  }
}

}  // namespace
}  // namespace pagedkv
