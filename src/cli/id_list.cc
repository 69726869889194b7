#include "cli/id_list.h"

#include <charconv>
#include <climits>

#include "core/error.h"

namespace pagedkv {

std::vector<int32_t> parse_id_list(const std::string& text, const char* what) {
  std::vector<int32_t> ids;
  if (text.empty()) return ids;
  size_t begin = 0;
  for (;;) {
    const size_t end = std::min(text.find(',', begin), text.size());
    const std::string item = text.substr(begin, end - begin);
    int64_t v = -1;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    PKV_CHECK(!item.empty() && ec == std::errc() && ptr == item.data() + item.size() && v >= 0 &&
                  v <= INT32_MAX,
              InvalidArgument, what, ": '", item, "' is not a token id");
    ids.push_back(int32_t(v));
    if (end == text.size()) break;
    begin = end + 1;
  }
  return ids;
}

}  // namespace pagedkv
