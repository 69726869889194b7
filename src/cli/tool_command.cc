#include "cli/tool_command.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"

namespace pagedkv {

// Replaces this process with the tool, e.g.
//   pagedkv bench --benchmark_filter='Hkv:8/B:16' --benchmark_min_time=0.5
void register_tool_command(CLI::App& app, const char* name, const char* description,
                           const char* binary, const char* build_target) {
  CLI::App* sub = app.add_subcommand(name, description);
  sub->allow_extras();
  sub->callback([sub, binary, build_target] {
    std::vector<std::string> args = sub->remaining();
    std::string bin = binary;
    std::vector<char*> argv{bin.data()};
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    fail(ErrorKind::kNotFound,
         str_cat("cannot run ", bin, ": ", std::strerror(errno),
                 " (build it: cmake --build build --target ", build_target, ")"));
  });
}

}  // namespace pagedkv
