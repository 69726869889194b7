// pagedkv command line: one subcommand per file, registered here.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/demo_command.h"
#include "core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"pagedkv: LLM decoding over a paged KV cache"};
  app.require_subcommand(1);
  pagedkv::register_demo_command(app);
  try {
    CLI11_PARSE(app, argc, argv);
  } catch (const pagedkv::Error& e) {
    std::cerr << "pagedkv: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
