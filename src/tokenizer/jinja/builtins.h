#pragma once
// Jinja's built-in filters, tests, global functions and the Python methods templates call on
// strings, dicts and lists (startswith, split, items, get, ...), as the chat templates of the
// supported families use them. Unknown names are Unsupported errors naming the filter or test.

#include <string>

#include "tokenizer/jinja/value.h"

namespace pagedkv::jinja {

Value apply_filter(const std::string& name, const Value& target, const CallArgs& args, int line);
bool apply_test(const std::string& name, const Value& target, const CallArgs& args, int line);

// obj.name: a dict's methods first (as Python's getattr), then its key; string and list methods;
// namespace attributes. Missing: Undefined. Undefined or None obj: error.
Value get_attr(const Value& obj, const std::string& name, int line);
// obj[key]: list/string index (negative from the end), dict key, then attribute. Missing:
// Undefined.
Value get_item(const Value& obj, const Value& key, int line);
// obj[start:stop:step] on lists and strings (code points), Python semantics.
Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step, int line);

// range, namespace, dict, raise_exception, strftime_now.
Dict builtin_globals();

// Iteration as a for loop does it: list items, dict keys, string characters; undefined: none.
List iterate(const Value& v, int line);

// Code points of a UTF-8 string, each as its own UTF-8 string.
std::vector<std::string> chars_of(const std::string& s);

}  // namespace pagedkv::jinja
