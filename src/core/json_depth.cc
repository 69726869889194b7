#include "core/json_depth.h"

#include "core/error.h"

namespace pagedkv {

int json_nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

void check_json_depth(std::string_view text, std::string_view what, int limit) {
  PKV_CHECK(json_nesting_depth(text, limit) <= limit, Corrupt, what, ": JSON nested deeper than ",
            limit, " levels (arrays / objects)");
}

}  // namespace pagedkv
