#pragma once
// Values of the Jinja interpreter, with Python's semantics where templates can observe them:
// str() of None/True/floats/lists, truthiness, ==, ordering, `in`. Lists and dicts are shared
// (reference semantics, like Python objects); dicts keep insertion order, keys are strings.

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace pagedkv::jinja {

class Value;
using List = std::vector<Value>;

struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value v);
};

struct CallArgs;
using Function = std::function<Value(CallArgs&)>;

struct Undefined {
  std::string name;  // what was looked up, for error messages
};
struct None {};
struct Namespace {
  Dict attrs;
};

class Value {
 public:
  using Storage =
      std::variant<Undefined, None, bool, int64_t, double, std::string, std::shared_ptr<List>,
                   std::shared_ptr<Dict>, std::shared_ptr<Namespace>, std::shared_ptr<Function>>;
  Value() : v_(Undefined{}) {}
  Value(None) : v_(None{}) {}
  Value(Undefined u) : v_(std::move(u)) {}
  Value(bool b) : v_(b) {}
  Value(int i) : v_(int64_t{i}) {}
  Value(int64_t i) : v_(i) {}
  Value(double d) : v_(d) {}
  Value(std::string s) : v_(std::move(s)) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(List l) : v_(std::make_shared<List>(std::move(l))) {}
  Value(Dict d) : v_(std::make_shared<Dict>(std::move(d))) {}
  Value(std::shared_ptr<Namespace> ns) : v_(std::move(ns)) {}
  static Value function(Function f) { return Value(std::make_shared<Function>(std::move(f))); }

  // Objects keep their key order with ordered_json (Python dicts do: tojson of a tool schema
  // must print keys as given).
  static Value from_json(const nlohmann::ordered_json& j);
  static Value from_json(const nlohmann::json& j);
  // Python's json.dumps(value, ensure_ascii=False, indent=indent) (indent < 0: none),
  // optionally with sort_keys.
  std::string to_json(int indent = -1, bool sort_keys = false) const;

  bool is_undefined() const { return std::holds_alternative<Undefined>(v_); }
  bool is_none() const { return std::holds_alternative<None>(v_); }
  bool is_bool() const { return std::holds_alternative<bool>(v_); }
  bool is_int() const { return std::holds_alternative<int64_t>(v_); }
  bool is_float() const { return std::holds_alternative<double>(v_); }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return std::holds_alternative<std::string>(v_); }
  bool is_list() const { return std::holds_alternative<std::shared_ptr<List>>(v_); }
  bool is_dict() const { return std::holds_alternative<std::shared_ptr<Dict>>(v_); }
  bool is_namespace() const { return std::holds_alternative<std::shared_ptr<Namespace>>(v_); }
  bool is_callable() const { return std::holds_alternative<std::shared_ptr<Function>>(v_); }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_number() const {
    return is_int() ? static_cast<double>(as_int()) : is_bool() ? as_bool() : std::get<double>(v_);
  }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const List& as_list() const { return *std::get<std::shared_ptr<List>>(v_); }
  const Dict& as_dict() const { return *std::get<std::shared_ptr<Dict>>(v_); }
  Namespace& as_namespace() const { return *std::get<std::shared_ptr<Namespace>>(v_); }
  const Function& as_function() const { return *std::get<std::shared_ptr<Function>>(v_); }
  const std::string& undefined_name() const { return std::get<Undefined>(v_).name; }

  bool truthy() const;
  std::string str() const;        // Python str(); undefined -> ""
  std::string repr() const;       // Python repr()
  std::string type_name() const;  // for error messages: "string", "list", ...

 private:
  explicit Value(std::shared_ptr<Function> f) : v_(std::move(f)) {}
  Storage v_;
};

bool equals(const Value& a, const Value& b);
// Python ordering for numbers and strings (and lists, lexicographically); throws otherwise.
int compare(const Value& a, const Value& b);
// Python repr of a float (shortest round-trip digits; exponent form outside [1e-4, 1e16)).
std::string format_float(double d);

// Arguments of a call: positional, then keyword.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  std::string callee;  // name, for errors
  // The i-th positional argument or the keyword `name`, else fallback.
  Value get(size_t i, const char* name, Value fallback = Value()) const;
};

}  // namespace pagedkv::jinja
