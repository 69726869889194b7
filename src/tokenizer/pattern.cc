#include "tokenizer/pattern.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace pagedkv {

Pattern Pattern::literal(std::string text) {
  Pattern p;
  p.literal_ = std::move(text);
  return p;
}

Pattern Pattern::from_json(const nlohmann::json& spec, std::string_view where) {
  PKV_CHECK(spec.is_object() && spec.size() == 1, Corrupt, where,
            ".pattern: expected {\"String\": ...} or {\"Regex\": ...}");
  const auto it = spec.begin();
  const std::string& kind = it.key();
  const nlohmann::json& value = it.value();
  PKV_CHECK(value.is_string(), Corrupt, where, ".pattern.", kind, ": expected a string");
  if (kind == "String") return literal(value.get<std::string>());
  PKV_CHECK(kind == "Regex", Corrupt, where, ".pattern: unknown pattern kind '", kind, "'");
  Pattern p;
  p.regex_ = std::make_shared<const Regex>(value.get<std::string>(), where);
  return p;
}

void Pattern::find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  if (regex_) {
    regex_->find_all(text, out);
    return;
  }
  if (literal_.empty()) return;
  for (size_t pos = text.find(literal_); pos != std::string_view::npos;
       pos = text.find(literal_, pos + literal_.size())) {
    out.emplace_back(pos, pos + literal_.size());
  }
}

std::string Pattern::replace_all(std::string_view text, std::string_view with) const {
  std::vector<std::pair<size_t, size_t>> matches;
  find_all(text, matches);
  if (matches.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size() + matches.size() * with.size());
  size_t prev = 0;
  for (const auto& [b, e] : matches) {
    out.append(text.substr(prev, b - prev));
    out.append(with);
    prev = e;
  }
  out.append(text.substr(prev));
  return out;
}

}  // namespace pagedkv
