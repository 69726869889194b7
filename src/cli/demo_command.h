#pragma once
// `pagedkv demo`: a tour of the paged KV cache on a tiny pool (no model needed).

#include <CLI/CLI.hpp>

namespace pagedkv {

void register_demo_command(CLI::App& app);

}  // namespace pagedkv
