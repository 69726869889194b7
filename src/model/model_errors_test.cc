// Model-level checkpoint errors: a missing tensor, a tensor of the wrong shape, an unknown
// architecture, a malformed config.json all give a clear Error naming the problem (the
// safetensors-level ones are in safetensors_test.cc). Also: an f16 copy of a checkpoint loads.

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/dtype.h"
#include "core/error.h"
#include "model/causal_lm.h"
#include "model/safetensors.h"
#include "model/testing/hf_fixture.h"

namespace pagedkv {
namespace {

namespace fs = std::filesystem;

// A scratch checkpoint: the llama3 fixture's config and tensors, edited by the test.
class BrokenCheckpoint : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           str_cat("pagedkv_model_errors_", ::getpid(), "_",
                   testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file("testdata/llama3/config.json", dir_ / "config.json");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes model.safetensors from the fixture's tensors; edit may drop (return false) or reshape.
  // f16: store every tensor as F16 (rounded to nearest even) instead of F32.
  void write_tensors(const std::function<bool(const std::string&, std::vector<int64_t>&)>& edit,
                     const std::string& int_tensor = "", bool f16 = false) {
    const TensorStore src = TensorStore::open("testdata/llama3");
    nlohmann::json header = nlohmann::json::object();
    std::string data;
    for (const std::string& name : src.names()) {
      const TensorInfo& t = src.info(name);
      std::vector<int64_t> shape = t.shape;
      if (!edit(name, shape)) continue;
      std::string bytes(reinterpret_cast<const char*>(t.data), t.bytes);
      if (f16) {
        std::string half(t.bytes / 2, '\0');
        for (size_t i = 0; i < t.bytes / 4; ++i) {
          float x;
          std::memcpy(&x, bytes.data() + 4 * i, 4);
          const uint16_t h = f32_to_f16(x);
          std::memcpy(half.data() + 2 * i, &h, 2);
        }
        bytes = half;
      }
      header[name] = {{"dtype", name == int_tensor ? "I32" : (f16 ? "F16" : "F32")},
                      {"shape", shape},
                      {"data_offsets", {data.size(), data.size() + bytes.size()}}};
      data += bytes;
    }
    const std::string h = header.dump();
    std::ofstream out(dir_ / "model.safetensors", std::ios::binary);
    const uint64_t n = h.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << h << data;
  }

  std::string expect_load_error(ErrorKind kind) {
    try {
      CausalLm::load(dir_.string());
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), kind) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "loading " << dir_ << " did not fail";
    return "";
  }

  fs::path dir_;
};

TEST_F(BrokenCheckpoint, IntactCopyLoads) {
  write_tensors([](const std::string&, std::vector<int64_t>&) { return true; });
  EXPECT_NO_THROW(CausalLm::load(dir_.string()));
}

// Not an error case: f16 weights load (upcast once) and stay close to HF's f32 logits (f16
// rounding of every weight, ~5e-4 relative, is the only difference).
TEST_F(BrokenCheckpoint, F16WeightsLoadAndTrackHf) {
  write_tensors([](const std::string&, std::vector<int64_t>&) { return true; }, "", true);
  const CausalLm m = CausalLm::load(dir_.string());
  const HfFixture fx = load_hf_fixture("testdata/llama3");
  KvCache cache(m.kv_cache_config(32, 4));
  cache.add_sequence(1);
  const auto rows = m.prefill(cache, 1, fx.prompts[1]);
  const int64_t V = fx.vocab_size;
  for (size_t t = 0; t < fx.prompts[1].size(); ++t) {
    const double err =
        relative_error({rows.data() + t * V, size_t(V)}, {fx.logits[1].data() + t * V, size_t(V)});
    EXPECT_LE(err, 1e-2) << "row " << t;
    EXPECT_GT(err, 0.0) << "row " << t;  // really rounded
  }
}

TEST_F(BrokenCheckpoint, MissingTensorIsNamed) {
  write_tensors([](const std::string& name, std::vector<int64_t>&) {
    return name != "model.layers.1.mlp.up_proj.weight";
  });
  const std::string msg = expect_load_error(ErrorKind::kNotFound);
  EXPECT_NE(msg.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << msg;
}

TEST_F(BrokenCheckpoint, WrongShapeIsNamed) {
  // Same element count, transposed: only a shape check catches it.
  write_tensors([](const std::string& name, std::vector<int64_t>& shape) {
    if (name == "model.layers.0.self_attn.o_proj.weight") std::swap(shape[0], shape[1]);
    if (name == "model.layers.2.mlp.down_proj.weight") std::swap(shape[0], shape[1]);
    return true;
  });
  const std::string msg = expect_load_error(ErrorKind::kInvalidArgument);
  EXPECT_NE(msg.find("model.layers.0.self_attn.o_proj.weight"), std::string::npos) << msg;
}

TEST_F(BrokenCheckpoint, NonFloatTensorIsNamed) {
  // Same bytes, declared I32: a valid safetensors file whose tensor no float path can use.
  write_tensors([](const std::string&, std::vector<int64_t>&) { return true; },
                "model.norm.weight");
  const std::string msg = expect_load_error(ErrorKind::kUnsupported);
  EXPECT_NE(msg.find("model.norm.weight"), std::string::npos) << msg;
}

TEST_F(BrokenCheckpoint, UnknownArchitectureIsNamed) {
  write_tensors([](const std::string&, std::vector<int64_t>&) { return true; });
  std::ifstream in(dir_ / "config.json");
  nlohmann::json j = nlohmann::json::parse(in);
  in.close();
  j["architectures"] = {"MambaForCausalLM"};
  j["model_type"] = "mamba";
  std::ofstream(dir_ / "config.json") << j.dump();
  const std::string msg = expect_load_error(ErrorKind::kUnsupported);
  EXPECT_NE(msg.find("MambaForCausalLM"), std::string::npos) << msg;
}

TEST_F(BrokenCheckpoint, MalformedConfigIsCorrupt) {
  write_tensors([](const std::string&, std::vector<int64_t>&) { return true; });
  std::ofstream(dir_ / "config.json")
      << "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": ";
  const std::string msg = expect_load_error(ErrorKind::kCorrupt);
  EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
}

TEST_F(BrokenCheckpoint, MissingConfigIsNotFound) {
  write_tensors([](const std::string&, std::vector<int64_t>&) { return true; });
  fs::remove(dir_ / "config.json");
  expect_load_error(ErrorKind::kNotFound);
}

TEST_F(BrokenCheckpoint, TruncatedWeightsFail) {
  write_tensors([](const std::string&, std::vector<int64_t>&) { return true; });
  fs::resize_file(dir_ / "model.safetensors", fs::file_size(dir_ / "model.safetensors") - 100);
  EXPECT_THROW(CausalLm::load(dir_.string()), Error);
}

}  // namespace
}  // namespace pagedkv
