#pragma once
// Typed access to tokenizer.json / tokenizer_config.json fields with errors that name the file
// section and the field ("tokenizer.json: model.merges[3]: expected a string").

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/error.h"

namespace pagedkv::json_util {

inline const nlohmann::json& field(const nlohmann::json& j, const char* key,
                                   std::string_view where) {
  PKV_CHECK(j.is_object(), Corrupt, where, ": expected an object");
  auto it = j.find(key);
  PKV_CHECK(it != j.end(), Corrupt, where, ": missing field '", key, "'");
  return *it;
}

inline std::string string_field(const nlohmann::json& j, const char* key, std::string_view where) {
  const auto& v = field(j, key, where);
  PKV_CHECK(v.is_string(), Corrupt, where, ".", key, ": expected a string");
  return v.get<std::string>();
}

// An optional field: `fallback` when absent or null.
template <typename T>
T get_or(const nlohmann::json& j, const char* key, T fallback, std::string_view where) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    fail(ErrorKind::kCorrupt, str_cat(where, ".", key, ": wrong type (", it->type_name(), ")"));
  }
}

// The "type" of a component, e.g. "Sequence".
inline std::string type_of(const nlohmann::json& j, std::string_view where) {
  return string_field(j, "type", where);
}

}  // namespace pagedkv::json_util
