// Model-level checkpoint errors: a missing tensor, a tensor of the wrong shape, an unknown
// architecture, a malformed config.json all give a clear Error naming the problem (the
// safetensors-level ones are in safetensors_test.cc).

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/causal_lm.h"
#include "model/safetensors.h"

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
  void write_tensors(const std::function<bool(const std::string&, std::vector<int64_t>&)>& edit,
                     const std::string& int_tensor = "") {
    const TensorStore src = TensorStore::open("testdata/llama3");
    nlohmann::json header = nlohmann::json::object();
    std::string data;
    for (const std::string& name : src.names()) {
      const TensorInfo& t = src.info(name);
      std::vector<int64_t> shape = t.shape;
      if (!edit(name, shape)) continue;
      header[name] = {{"dtype", name == int_tensor ? "I32" : "F32"},
                      {"shape", shape},
                      {"data_offsets", {data.size(), data.size() + t.bytes}}};
      data.append(reinterpret_cast<const char*>(t.data), t.bytes);
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
