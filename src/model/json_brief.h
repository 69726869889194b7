#pragma once
// A JSON value from a checkpoint named in an error message without echoing it: numbers and
// booleans as they are, strings cut to 40 bytes, arrays and objects by their size. A hostile
// value may be megabytes long, and dump() recurses once per nesting level.

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"

namespace pagedkv {

inline std::string json_brief(const nlohmann::json& v) {
  if (v.is_number() || v.is_boolean() || v.is_null()) return v.dump();
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.size() <= 40)
      return nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return nlohmann::json(s.substr(0, 40))
               .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
           "...";
  }
  return str_cat(v.is_array() ? "an array of " : "an object of ", v.size(), " entries");
}

}  // namespace pagedkv
