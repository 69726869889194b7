#pragma once
// The {"String": "..."} / {"Regex": "..."} patterns of tokenizer.json (Split, Replace): a literal
// matched with non-overlapping left-to-right search, or a PCRE2 regex.

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/regex.h"

namespace pagedkv {

class Pattern {
 public:
  static Pattern literal(std::string text);
  static Pattern from_json(const nlohmann::json& spec, std::string_view where);

  // Non-overlapping matches [begin, end) in text, left to right (appended to out).
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;
  std::string replace_all(std::string_view text, std::string_view with) const;

 private:
  std::string literal_;
  std::shared_ptr<const Regex> regex_;  // null: literal
};

}  // namespace pagedkv
