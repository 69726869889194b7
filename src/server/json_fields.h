#pragma once
// Typed, range-checked access to the fields of a request body. Every wrong type or value throws
// ApiError 400 naming the field ("temperature: expected a number, got string"). JSON null counts
// as absent (the default applies), as in OpenAI's and vLLM's servers; fields nobody asks for are
// ignored.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace pagedkv {

// Request bodies keep their key order (a chat template's tojson prints tool schemas as given).
using Json = nlohmann::ordered_json;

// JSON's name for a value's type, as error messages print it ("string", "integer", ...).
const char* json_type_name(const Json& v);

class JsonFields {
 public:
  // `body` must be an object (ApiError otherwise); `prefix` names it in messages ("" for the
  // body, "messages[2]" for a nested object).
  explicit JsonFields(const Json& body, std::string prefix = "");

  // The field, or null when it is absent or JSON null.
  const Json* get(const char* name) const;
  // The field's full name for messages: prefix.name.
  std::string path(const char* name) const;

  // An integer (an integral float such as 2.0 is accepted) in [lo, hi].
  std::optional<int64_t> integer(const char* name, int64_t lo, int64_t hi) const;
  // A finite number in [lo, hi].
  std::optional<double> number(const char* name, double lo, double hi) const;
  std::optional<bool> boolean(const char* name) const;
  std::optional<std::string> string(const char* name) const;
  // A string or an array of strings (OpenAI's `stop`), at most max_items, none empty.
  std::optional<std::vector<std::string>> string_or_list(const char* name, size_t max_items) const;

 private:
  const Json& body_;
  std::string prefix_;
};

}  // namespace pagedkv
