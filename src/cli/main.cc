// pagedkv command line: one subcommand per file, registered here.
#include <CLI/CLI.hpp>

#include <iostream>

#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"pagedkv: LLM decoding over a paged KV cache"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
