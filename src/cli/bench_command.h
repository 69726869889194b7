#pragma once
// `pagedkv bench`: runs the CPU decode attention benchmark (bench/cpu_decode_bench.cc).

#include <CLI/CLI.hpp>

namespace pagedkv {

void register_bench_command(CLI::App& app);

}  // namespace pagedkv
