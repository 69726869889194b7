#pragma once
// `pagedkv generate --model DIR --prompt-ids 1,2,3 [--max-new-tokens N] [--block-size B]`:
// loads a Hugging Face checkpoint directory (Llama 3, Qwen 3, Gemma 3, Llama 4 text) and prints the
// greedy continuation's token ids, comma-separated, on one line.

#include <CLI/CLI.hpp>

namespace pagedkv {

void register_generate_command(CLI::App& app);

}  // namespace pagedkv
