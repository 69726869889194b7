// Hostile inputs at the core layer: JSON nesting bounds, non-regular files (a FIFO must not
// block), allocation checks against what the process can get.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "core/host_memory.h"
#include "core/json_depth.h"
#include "core/mapped_file.h"
#include "core/regular_file.h"

namespace pagedkv {
namespace {

namespace fs = std::filesystem;

TEST(JsonDepth, CountsArraysAndObjectsNotStrings) {
  EXPECT_EQ(json_nesting_depth("1"), 0);
  EXPECT_EQ(json_nesting_depth("[1, {\"a\": [2]}]"), 3);
  EXPECT_EQ(json_nesting_depth("{\"k\": \"[[[[{{{{\"}"), 1);
  EXPECT_EQ(json_nesting_depth("[\"\\\"[[[[\", []]"), 2);  // an escaped quote stays in the string
}

TEST(JsonDepth, RejectsDeepTextNamingIt) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(json_nesting_depth(deep), kMaxJsonDepth + 1);  // stops early
  try {
    check_json_depth(deep, "config.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("config.json: JSON nested deeper than 128"),
              std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(check_json_depth(std::string(128, '[') + std::string(128, ']'), "x"));
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pagedkv_core_hostile_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

using RegularFile = TempDir;

TEST_F(RegularFile, ReadsFilesAndRefusesFifosWithoutBlocking) {
  std::ofstream(dir_ / "a.json") << "{\"x\": 1}";
  EXPECT_EQ(read_regular_file(dir_ / "a.json", 100), "{\"x\": 1}");
  const fs::path fifo = dir_ / "model.safetensors";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    read_regular_file(fifo, 100);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  try {
    MappedFile::open(fifo);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_THROW(read_regular_file(dir_, 100), Error);  // a directory
  EXPECT_THROW(read_regular_file("/dev/zero", 100), Error);
  try {
    read_regular_file(dir_ / "missing.json", 100);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
}

TEST_F(RegularFile, RefusesFilesOverTheLimitBeforeReading) {
  std::ofstream(dir_ / "big.json") << std::string(1000, ' ');
  try {
    read_regular_file(dir_ / "big.json", 999);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than the limit of 999"), std::string::npos)
        << e.what();
  }
}

TEST(HostMemory, ImpossibleSizesAreClearErrors) {
  EXPECT_GT(host_memory_available(), int64_t(1) << 20);
  EXPECT_NO_THROW(check_host_allocation(1 << 20, "a small buffer"));
  try {
    check_host_allocation(INT64_MAX, "the KV pool (--num-blocks 2147483647)");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kOutOfMemory);
    EXPECT_NE(std::string(e.what()).find("the KV pool (--num-blocks 2147483647) needs"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace pagedkv
