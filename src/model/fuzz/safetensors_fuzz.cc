// libFuzzer harness: a checkpoint directory through TensorStore::open and every tensor read. The
// first byte picks what the rest is: even, a whole model.safetensors file (8-byte header length,
// JSON header, data); odd, a model.safetensors.index.json beside one valid shard
// (model-00001-of-00001.safetensors, tensor "a", F32 [2]). Any outcome but a store or a
// pagedkv::Error is a finding. Built by scripts/fuzz.sh with clang
// (-fsanitize=fuzzer,address,undefined); seeds in corpus/safetensors/.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "model/safetensors.h"

namespace {

namespace fs = std::filesystem;

// One scratch directory per process (in memory where /dev/shm exists), removed at exit (libFuzzer
// ends runs with exit()). Its name is kept in a plain array: no destructor runs before the
// cleanup does.
char scratch_name[512];

void remove_scratch() {
  std::error_code ec;
  fs::remove_all(scratch_name, ec);
}

const fs::path& scratch() {
  static const fs::path dir = [] {
    // $PAGEDKV_FUZZ_SCRATCH (scripts/fuzz.sh sets it and removes it after the run: fork-mode
    // workers killed at the end never reach exit()), else /dev/shm, else the temp directory.
    const char* env = std::getenv("PAGEDKV_FUZZ_SCRATCH");
    const fs::path base = env != nullptr           ? fs::path(env)
                          : fs::exists("/dev/shm") ? fs::path("/dev/shm")
                                                   : fs::temp_directory_path();
    fs::path d = base / ("pagedkv_safetensors_fuzz_" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::snprintf(scratch_name, sizeof scratch_name, "%s", d.c_str());
    std::atexit(remove_scratch);
    return d;
  }();
  return dir;
}

void write(const fs::path& path, const char* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data, std::streamsize(size));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const fs::path& dir = scratch();
  const bool index = (data[0] & 1) != 0;
  const char* rest = reinterpret_cast<const char*>(data + 1);
  fs::remove(dir / "model.safetensors");
  fs::remove(dir / "model.safetensors.index.json");
  if (index) {
    static const std::string shard = [] {
      const std::string h = R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
      const uint64_t n = h.size();
      return std::string(reinterpret_cast<const char*>(&n), 8) + h + std::string(8, '\0');
    }();
    write(dir / "model-00001-of-00001.safetensors", shard.data(), shard.size());
    write(dir / "model.safetensors.index.json", rest, size - 1);
  } else {
    write(dir / "model.safetensors", rest, size - 1);
  }
  try {
    const pagedkv::TensorStore store = pagedkv::TensorStore::open(dir);
    for (const std::string& name : store.names()) {
      try {
        const pagedkv::TensorInfo& t = store.info(name);
        if (t.bytes <= (size_t(1) << 20)) (void)store.read_f32(name, t.shape);
      } catch (const pagedkv::Error&) {
        // Unsupported dtypes (I64, fp8 needing scales) are listed but cannot be read.
      }
    }
  } catch (const pagedkv::Error&) {
    // A clear error: the expected outcome for hostile input.
  }
  return 0;
}
