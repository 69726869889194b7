#pragma once
// `pagedkv generate --model DIR (--prompt TEXT | --prompt-file F | --prompt-ids 1,2,3) [--chat]`:
// one request through the engine from a Hugging Face checkpoint. Text streams to stdout as it is
// generated (token ids when the checkpoint has no tokenizer.json); --json prints one object with
// the ids, text, finish reason and, with --logprobs N, the top-N log-probabilities per token.
// EOS (generation_config.json) and the model's context are honoured.

#include <CLI/CLI.hpp>

namespace pagedkv {

void register_generate_command(CLI::App& app);

}  // namespace pagedkv
