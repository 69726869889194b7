#pragma once
// `pagedkv batch-generate`: several prompts at once through the engine (continuous batching over
// one paged KV pool, prefix sharing, n samples, sampling knobs, stop ids) from a Hugging Face
// checkpoint directory. Prints one line of comma-separated token ids per sample, in request
// order, and the engine's metrics on stderr.

#include <CLI/CLI.hpp>

namespace pagedkv {

void register_batch_generate_command(CLI::App& app);

}  // namespace pagedkv
