// Encode throughput of pagedkv's tokenizer on the fixture corpus
// (tools/make_tokenizer_fixtures.py), one document per encode() call, single thread, per family.
// bench/tokenizer_bench.py runs this and Hugging Face `tokenizers` on the same corpus in the same
// run and prints the ratio table.
//
//   build/bench/pagedkv_tokenizer_bench [--benchmark_min_time=2] [fixture dir]

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

std::filesystem::path g_dir = PAGEDKV_TOKENIZER_FIXTURES;

// Loaded once per family and kept: google benchmark calls the function several times, and the
// tokenizer's word cache stays warm across passes (as HF's does across its timed passes).
const pagedkv::Tokenizer& tokenizer(const std::string& family) {
  static std::map<std::string, pagedkv::Tokenizer> loaded;
  auto it = loaded.find(family);
  if (it == loaded.end()) {
    it = loaded.emplace(family, pagedkv::Tokenizer::from_file(g_dir / family / "tokenizer.json"))
             .first;
  }
  return it->second;
}

void BM_Encode(benchmark::State& state, const std::string& family) {
  std::ifstream in(g_dir / "corpus.json");
  if (!in.good()) {
    state.SkipWithError("no corpus.json: run python3 tools/make_tokenizer_fixtures.py");
    return;
  }
  const auto docs = nlohmann::json::parse(in).get<std::vector<std::string>>();
  const pagedkv::Tokenizer& tok = tokenizer(family);
  size_t bytes = 0, ids = 0;
  for (const auto& d : docs) bytes += d.size();
  for (auto _ : state) {
    ids = 0;
    for (const auto& d : docs) ids += tok.encode(d).size();
    benchmark::DoNotOptimize(ids);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["ids"] = static_cast<double>(ids);
  state.counters["corpus_bytes"] = static_cast<double>(bytes);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (argc > 1) g_dir = argv[1];
  for (const char* family : {"llama3", "qwen3", "gemma3", "smollm2"}) {
    benchmark::RegisterBenchmark((std::string("encode/") + family).c_str(), BM_Encode,
                                 std::string(family))
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
