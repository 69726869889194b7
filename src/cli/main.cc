// pagedkv command line: one subcommand per file, registered here.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <new>

#include "cli/batch_generate_command.h"
#include "cli/chat_command.h"
#include "cli/engine_demo_command.h"
#include "cli/generate_command.h"
#include "cli/serve_command.h"
#include "cli/tool_command.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"pagedkv: LLM decoding over a paged KV cache"};
  app.require_subcommand(1);
  pagedkv::register_engine_demo_command(app);
  pagedkv::register_tool_command(
      app, "pool-demo",
      "Fill a small paged KV pool: shared prefix, fork, sliding window, page lists",
      PAGEDKV_POOL_DEMO, "pagedkv_pool_demo");
  pagedkv::register_generate_command(app);
  pagedkv::register_batch_generate_command(app);
  pagedkv::register_chat_command(app);
  pagedkv::register_serve_command(app);
  pagedkv::register_tool_command(
      app, "bench",
      "CPU decode attention benchmark: dense vs gather vs fused paged, and memcpy bandwidth "
      "(extra arguments go to Google Benchmark)",
      PAGEDKV_CPU_DECODE_BENCH, "pagedkv_cpu_decode_bench");
  try {
    CLI11_PARSE(app, argc, argv);
  } catch (const pagedkv::Error& e) {
    std::cerr << "pagedkv: " << e.what() << "\n";
    return 1;
  } catch (const std::bad_alloc&) {
    // Limits are checked before large allocations; this is the last line of defence.
    std::cerr << "pagedkv: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    // Any other exception is a bug or an input we did not foresee: a message and exit 1, never
    // std::terminate.
    std::cerr << "pagedkv: unexpected error: " << e.what() << "\n";
    return 1;
  } catch (...) {
    std::cerr << "pagedkv: unexpected error\n";
    return 1;
  }
  return 0;
}
