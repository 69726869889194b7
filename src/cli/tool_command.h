#pragma once
// Subcommands that run a program built next to pagedkv (path fixed at configure time), passing
// every extra argument through: `pagedkv bench` (the CPU decode attention benchmark) and
// `pagedkv pool-demo` (the kv layer's tour).

#include <CLI/CLI.hpp>

namespace pagedkv {

void register_tool_command(CLI::App& app, const char* name, const char* description,
                           const char* binary, const char* build_target);

}  // namespace pagedkv
