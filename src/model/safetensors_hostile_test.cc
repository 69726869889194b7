// Hostile safetensors checkpoints (issue 20): headers and index files nested 100k levels deep
// (a 200 KB file that used to overflow the stack while the error message echoed the value), deep
// values within the bound (named by type, never echoed), and a FIFO named model.safetensors
// (refused at once; opening it used to block forever).

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "model/safetensors.h"

namespace pagedkv {
namespace {

namespace fs = std::filesystem;

class HostileSafetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / str_cat("pagedkv_st_hostile_", ::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A safetensors file whose header is `header` (verbatim) and whose data buffer has `data` bytes.
  void write_file(const std::string& name, const std::string& header, size_t data = 8) {
    std::ofstream f(dir_ / name, std::ios::binary);
    const uint64_t n = header.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f << header << std::string(data, '\0');
  }
  std::string error_of(const fs::path& path) {
    try {
      TensorStore::open(path);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kCorrupt) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "no error";
    return "";
  }
  fs::path dir_;
};

std::string nested(int depth, const std::string& inner) {
  return std::string(size_t(depth), '[') + inner + std::string(size_t(depth), ']');
}

TEST_F(HostileSafetensors, DeepShapeAndOffsetsAreRefusedNotEchoed) {
  const std::string deep = nested(100000, "2");
  write_file("shape.safetensors",
             R"({"a": {"dtype": "F32", "shape": )" + deep + R"(, "data_offsets": [0, 8]}})");
  EXPECT_NE(error_of(dir_ / "shape.safetensors").find("header: JSON nested deeper than 128"),
            std::string::npos);
  write_file("offsets.safetensors",
             R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, )" + deep + "]}}");
  EXPECT_NE(error_of(dir_ / "offsets.safetensors").find("nested deeper"), std::string::npos);
  // Within the bound: the value is named by its type, not dumped.
  write_file("shape100.safetensors", R"({"a": {"dtype": "F32", "shape": )" + nested(100, "2") +
                                         R"(, "data_offsets": [0, 8]}})");
  const std::string e = error_of(dir_ / "shape100.safetensors");
  EXPECT_NE(e.find("shape entries must be non-negative integers, got an array of 1 entries"),
            std::string::npos)
      << e;
  write_file("offsets100.safetensors", R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": )" +
                                           nested(100, "0, 8") + "}}");
  EXPECT_NE(error_of(dir_ / "offsets100.safetensors").find("data_offsets"), std::string::npos);
}

TEST_F(HostileSafetensors, FloatShapesAndOffsetsAreRefused) {
  write_file("f.safetensors", R"({"a": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}})");
  EXPECT_NE(error_of(dir_ / "f.safetensors").find("got 2.0"), std::string::npos);
  write_file("g.safetensors", R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8.5]}})");
  EXPECT_NE(error_of(dir_ / "g.safetensors").find("got [0, 8.5]"), std::string::npos);
}

TEST_F(HostileSafetensors, DeepIndexValueIsRefusedNotEchoed) {
  write_file("model-00001-of-00001.safetensors",
             R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})");
  std::ofstream(dir_ / "model.safetensors.index.json")
      << R"({"weight_map": {"a": )" << nested(100000, "\"x\"") << "}}";
  EXPECT_NE(error_of(dir_).find("model.safetensors.index.json: JSON nested deeper than 128"),
            std::string::npos);
  std::ofstream(dir_ / "model.safetensors.index.json", std::ios::trunc)
      << R"({"weight_map": {"a": )" << nested(100, "\"x\"") << "}}";
  const std::string e = error_of(dir_);
  EXPECT_NE(e.find("'a' maps to an array of 1 entries, not a file name"), std::string::npos) << e;
}

TEST_F(HostileSafetensors, FifoCheckpointIsRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo((dir_ / "model.safetensors").c_str(), 0600), 0);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    TensorStore::open(dir_);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  fs::remove(dir_ / "model.safetensors");
  write_file("model-00001-of-00001.safetensors",
             R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})");
  ASSERT_EQ(::mkfifo((dir_ / "model.safetensors.index.json").c_str(), 0600), 0);
  EXPECT_THROW(TensorStore::open(dir_), Error);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

}  // namespace
}  // namespace pagedkv
