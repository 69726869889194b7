#pragma once
// Internal helpers of the Jinja builtins (methods.cc, builtins.cc): Python string semantics.

#include <cstdint>
#include <string>

#include "tokenizer/jinja/value.h"

namespace pagedkv::jinja::detail {

[[noreturn]] void builtin_error(int line, const std::string& what);
bool py_space(char32_t c);  // str.isspace()
// str.strip / lstrip / rstrip (chars: a string of characters, or None/undefined: whitespace).
std::string py_strip(const std::string& s, const Value& chars, bool left, bool right);
// how: 'u' upper, 'l' lower, 't' title (full Unicode case mapping, ICU root locale).
std::string case_map(const std::string& s, char how);
List py_split(const std::string& s, const Value& sep, int64_t maxsplit);
std::string py_replace(const std::string& s, const std::string& from, const std::string& to,
                       int64_t count);
int64_t int_arg(const Value& v, int64_t fallback, const char* what, int line);
// Bound methods of a string / dict ("startswith", "items", ...); Undefined if none.
Value string_method(const std::string& s, const std::string& name, int line);
Value dict_method(const Dict& d, const std::string& name);

}  // namespace pagedkv::jinja::detail
