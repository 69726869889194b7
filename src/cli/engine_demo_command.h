#pragma once
// `pagedkv demo`: the engine serving many requests that share a long system prompt, on a
// synthetic model built in at a fixed seed (no download). Prints throughput, pool usage with and
// without prefix sharing, the prefix hit rate, preemptions, and checks every request's tokens
// against a run of that request alone.

#include <CLI/CLI.hpp>

namespace pagedkv {

void register_engine_demo_command(CLI::App& app);

}  // namespace pagedkv
