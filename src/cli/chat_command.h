#pragma once
// `pagedkv chat --model DIR`: an interactive conversation on standard input. Each turn renders
// the whole conversation with the checkpoint's chat template and runs it through one engine,
// whose prefix cache serves the part already computed in earlier turns (the reused-token count
// is shown); the reply streams as it is generated. Empty line or end of input: quit.

#include <CLI/CLI.hpp>

namespace pagedkv {

void register_chat_command(CLI::App& app);

}  // namespace pagedkv
