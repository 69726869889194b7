#pragma once
// `pagedkv serve`: the OpenAI-compatible HTTP server (src/server/), with the model flags the
// other text commands take.

#include <CLI/CLI.hpp>

namespace pagedkv {

void register_serve_command(CLI::App& app);

}  // namespace pagedkv
