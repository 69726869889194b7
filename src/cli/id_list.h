#pragma once
// Token id lists on the command line: "1,2,3" (no spaces, no empty items).

#include <cstdint>
#include <string>
#include <vector>

namespace pagedkv {

// Error(InvalidArgument) naming `what` (the flag) and the offending item: not a number, negative,
// over INT32_MAX, empty (e.g. a trailing comma). An empty text gives an empty list.
std::vector<int32_t> parse_id_list(const std::string& text, const char* what);

}  // namespace pagedkv
