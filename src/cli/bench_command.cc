#include "cli/bench_command.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"

namespace pagedkv {

// Replaces this process with the Google Benchmark binary built next to it (path fixed at
// configure time), passing every extra argument through, e.g.
//   pagedkv bench --benchmark_filter='Hkv:8/B:16' --benchmark_min_time=0.5
void register_bench_command(CLI::App& app) {
  CLI::App* sub = app.add_subcommand(
      "bench",
      "CPU decode attention benchmark: dense vs gather vs fused paged, and memcpy "
      "bandwidth (extra arguments go to Google Benchmark)");
  sub->allow_extras();
  sub->callback([sub] {
    std::vector<std::string> args = sub->remaining();
    std::vector<char*> argv;
    std::string bin = PAGEDKV_CPU_DECODE_BENCH;
    argv.push_back(bin.data());
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    fail(ErrorKind::kNotFound,
         str_cat("cannot run the benchmark binary ", bin, ": ", std::strerror(errno),
                 " (build it: cmake --build build "
                 "--target pagedkv_cpu_decode_bench)"));
  });
}

}  // namespace pagedkv
