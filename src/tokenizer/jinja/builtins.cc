#include "tokenizer/jinja/builtins.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "core/error.h"
#include "tokenizer/jinja/py_str.h"
#include "tokenizer/utf8.h"

namespace pagedkv::jinja {
namespace {

using namespace detail;

Value attr_of(const Value& item, const Value& attribute, int line) {
  if (!attribute.is_string()) return item;
  Value v = item;
  size_t pos = 0;
  const std::string& path = attribute.as_string();
  while (pos <= path.size()) {  // "a.b" walks nested attributes
    const size_t dot = path.find('.', pos);
    const std::string part =
        path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    v = get_item(v, Value(part), line);
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return v;
}

CallArgs rest_args(const CallArgs& a, size_t from, const std::string& callee) {
  CallArgs out;
  out.callee = callee;
  for (size_t i = from; i < a.positional.size(); ++i) out.positional.push_back(a.positional[i]);
  return out;
}

}  // namespace

bool apply_test(const std::string& name, const Value& v, const CallArgs& a, int line) {
  const Value arg = a.get(0, "other");
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number() || v.is_bool();
  if (name == "integer") return v.is_int();
  if (name == "float") return v.is_float();
  if (name == "mapping") return v.is_dict();
  if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string();
  if (name == "callable") return v.is_callable();
  if (name == "equalto" || name == "eq" || name == "==") return equals(v, arg);
  if (name == "ne" || name == "!=") return !equals(v, arg);
  if (name == "sameas") {
    if (v.is_none() || arg.is_none() || v.is_bool() || arg.is_bool())
      return equals(v, arg) && v.type_name() == arg.type_name();
    return false;
  }
  if (name == "lt" || name == "<" || name == "lessthan") return compare(v, arg) < 0;
  if (name == "le" || name == "<=") return compare(v, arg) <= 0;
  if (name == "gt" || name == ">" || name == "greaterthan") return compare(v, arg) > 0;
  if (name == "ge" || name == ">=") return compare(v, arg) >= 0;
  if (name == "in") {
    if (arg.is_string())
      return v.is_string() && arg.as_string().find(v.as_string()) != std::string::npos;
    if (arg.is_dict()) return v.is_string() && arg.as_dict().find(v.as_string()) != nullptr;
    for (const Value& x : iterate(arg, line))
      if (equals(v, x)) return true;
    return false;
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!v.is_int())
      builtin_error(line, str_cat("test '", name, "' needs an integer, got ", v.type_name()));
    if (name == "divisibleby") {
      const int64_t d = int_arg(arg, 1, "divisibleby", line);
      return d != 0 && v.as_int() % d == 0;
    }
    return (v.as_int() % 2 != 0) == (name == "odd");
  }
  if (name == "lower" || name == "upper") {
    return v.is_string() && case_map(v.as_string(), name[0] == 'l' ? 'l' : 'u') == v.as_string();
  }
  fail(ErrorKind::kUnsupported, str_cat("chat template: line ", line, ": test '", name,
                                        "' is not supported by pagedkv's Jinja subset"));
}

Value apply_filter(const std::string& name, const Value& v, const CallArgs& a, int line) {
  if (name == "trim" || name == "strip") {
    return Value(
        py_strip(v.is_undefined() ? std::string() : v.str(), a.get(0, "chars"), true, true));
  }
  if (name == "length" || name == "count") {
    if (v.is_string()) return Value(static_cast<int64_t>(chars_of(v.as_string()).size()));
    if (v.is_list()) return Value(static_cast<int64_t>(v.as_list().size()));
    if (v.is_dict()) return Value(static_cast<int64_t>(v.as_dict().items.size()));
    if (v.is_undefined()) return Value(int64_t{0});
    builtin_error(line, str_cat("object of type ", v.type_name(), " has no length"));
  }
  if (name == "tojson") {
    const Value indent = a.get(0, "indent");
    return Value(v.to_json(indent.is_int() ? static_cast<int>(indent.as_int()) : -1,
                           a.get(99, "sort_keys", Value(false)).truthy()));
  }
  if (name == "upper" || name == "lower" || name == "title")
    return Value(case_map(v.str(), name[0]));
  if (name == "capitalize")
    return string_method(v.str(), "capitalize", line).as_function()(const_cast<CallArgs&>(a));
  if (name == "string") return Value(v.str());
  if (name == "safe" || name == "e" || name == "escape") {
    if (name == "safe") return v;
    std::string out;
    for (char c : v.str()) {
      switch (c) {
        case '&':
          out += "&amp;";
          break;
        case '<':
          out += "&lt;";
          break;
        case '>':
          out += "&gt;";
          break;
        case '"':
          out += "&#34;";
          break;
        case '\'':
          out += "&#39;";
          break;
        default:
          out += c;
      }
    }
    return Value(out);
  }
  if (name == "default" || name == "d") {
    const bool boolean = a.get(1, "boolean", Value(false)).truthy();
    if (v.is_undefined() || (boolean && !v.truthy()))
      return a.get(0, "default_value", Value(std::string()));
    return v;
  }
  if (name == "items") {
    if (v.is_undefined()) return Value(List{});
    if (!v.is_dict())
      builtin_error(line, str_cat("items: expected a mapping, got ", v.type_name()));
    CallArgs none;
    return dict_method(v.as_dict(), "items").as_function()(none);
  }
  if (name == "list") return Value(iterate(v, line));
  if (name == "first" || name == "last") {
    const List items = iterate(v, line);
    if (items.empty()) return Value(Undefined{name});
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    if (v.is_string()) {
      auto cs = chars_of(v.as_string());
      std::string out;
      for (size_t i = cs.size(); i-- > 0;) out += cs[i];
      return Value(out);
    }
    List items = iterate(v, line);
    std::reverse(items.begin(), items.end());
    return Value(std::move(items));
  }
  if (name == "join") {
    const Value sep = a.get(0, "d", Value(std::string()));
    const Value attribute = a.get(1, "attribute");
    std::string out;
    const List items = iterate(v, line);
    for (size_t i = 0; i < items.size(); ++i)
      out += (i ? sep.str() : "") + attr_of(items[i], attribute, line).str();
    return Value(out);
  }
  if (name == "replace") {
    const Value from = a.get(0, "old"), to = a.get(1, "new");
    return Value(
        py_replace(v.str(), from.str(), to.str(), int_arg(a.get(2, "count"), -1, "replace", line)));
  }
  if (name == "int") {
    if (v.is_int()) return v;
    if (v.is_float()) return Value(static_cast<int64_t>(v.as_number()));
    if (v.is_bool()) return Value(int64_t{v.as_bool()});
    try {
      return Value(static_cast<int64_t>(std::stoll(v.str())));
    } catch (...) {
      return a.get(0, "default", Value(int64_t{0}));
    }
  }
  if (name == "float") {
    if (v.is_number() || v.is_bool()) return Value(v.as_number());
    try {
      return Value(std::stod(v.str()));
    } catch (...) {
      return a.get(0, "default", Value(0.0));
    }
  }
  if (name == "abs") {
    if (v.is_int()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    if (v.is_float()) return Value(std::fabs(v.as_number()));
    builtin_error(line, "abs: expected a number");
  }
  if (name == "round") {
    const int64_t precision = int_arg(a.get(0, "precision"), 0, "round", line);
    const double scale = std::pow(10.0, static_cast<double>(precision));
    return Value(std::round(v.as_number() * scale) / scale);
  }
  if (name == "indent") {
    const Value width = a.get(0, "width", Value(int64_t{4}));
    const std::string pad =
        width.is_string()
            ? width.as_string()
            : std::string(static_cast<size_t>(int_arg(width, 4, "indent", line)), ' ');
    const bool first = a.get(1, "first", Value(false)).truthy();
    const bool blank = a.get(2, "blank", Value(false)).truthy();
    const List lines = py_split(v.str(), Value("\n"), -1);
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string& l = lines[i].as_string();
      if (i) out += "\n";
      if ((i > 0 || first) && (blank || !l.empty())) out += pad;
      out += l;
    }
    return Value(out);
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    const bool attr = name.ends_with("attr");
    const bool keep_if = name.starts_with("select");
    const size_t test_pos = attr ? 1 : 0;
    List out;
    for (const Value& item : iterate(v, line)) {
      const Value x = attr ? attr_of(item, a.get(0, "attribute"), line) : item;
      bool ok;
      if (a.positional.size() <= test_pos) {
        ok = x.truthy();
      } else {
        ok = apply_test(a.positional[test_pos].str(), x, rest_args(a, test_pos + 1, name), line);
      }
      if (ok == keep_if) out.push_back(item);
    }
    return Value(std::move(out));
  }
  if (name == "map") {
    List out;
    const Value attribute = a.get(99, "attribute");
    for (const Value& item : iterate(v, line)) {
      if (attribute.is_string()) {
        Value x = attr_of(item, attribute, line);
        if (x.is_undefined()) x = a.get(99, "default", x);
        out.push_back(x);
      } else if (!a.positional.empty()) {
        out.push_back(apply_filter(a.positional[0].str(), item, rest_args(a, 1, "map"), line));
      } else {
        out.push_back(item);
      }
    }
    return Value(std::move(out));
  }
  if (name == "unique") {
    List out;
    for (const Value& item : iterate(v, line)) {
      bool seen = false;
      for (const Value& o : out) seen |= equals(o, item);
      if (!seen) out.push_back(item);
    }
    return Value(std::move(out));
  }
  if (name == "sum") {
    Value total = a.get(1, "start", Value(int64_t{0}));
    for (const Value& item : iterate(v, line)) {
      const Value x = attr_of(item, a.get(0, "attribute"), line);
      total = total.is_int() && x.is_int() ? Value(total.as_int() + x.as_int())
                                           : Value(total.as_number() + x.as_number());
    }
    return total;
  }
  if (name == "min" || name == "max" || name == "sort") {
    List items = iterate(v, line);
    const Value attribute = a.get(name == "sort" ? 2 : 1, "attribute");
    std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
      return compare(attr_of(x, attribute, line), attr_of(y, attribute, line)) < 0;
    });
    if (name == "sort") {
      if (a.get(0, "reverse", Value(false)).truthy()) std::reverse(items.begin(), items.end());
      return Value(std::move(items));
    }
    if (items.empty()) return Value(Undefined{name});
    return name == "min" ? items.front() : items.back();
  }
  if (name == "dictsort") {
    if (!v.is_dict()) builtin_error(line, "dictsort: expected a mapping");
    auto kv = v.as_dict().items;
    std::stable_sort(kv.begin(), kv.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    List out;
    for (auto& [k, x] : kv) out.push_back(Value(List{Value(k), x}));
    return Value(std::move(out));
  }
  fail(ErrorKind::kUnsupported, str_cat("chat template: line ", line, ": filter '", name,
                                        "' is not supported by pagedkv's Jinja subset"));
}

Dict builtin_globals() {
  Dict g;
  g.set("range", Value::function([](CallArgs& a) {
          int64_t start = 0, stop, step = 1;
          if (a.positional.size() == 1) {
            stop = int_arg(a.positional[0], 0, "range", 0);
          } else {
            start = int_arg(a.get(0, "start"), 0, "range", 0);
            stop = int_arg(a.get(1, "stop"), 0, "range", 0);
            step = int_arg(a.get(2, "step"), 1, "range", 0);
          }
          if (step == 0)
            fail(ErrorKind::kInvalidArgument, "chat template: range() step must not be zero");
          List out;
          for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
            out.push_back(Value(i));
            if (out.size() > 1000000)
              fail(ErrorKind::kInvalidArgument, "chat template: range() too long");
          }
          return Value(std::move(out));
        }));
  g.set("namespace", Value::function([](CallArgs& a) {
          auto ns = std::make_shared<Namespace>();
          if (!a.positional.empty() && a.positional[0].is_dict())
            ns->attrs = a.positional[0].as_dict();
          for (const auto& [k, v] : a.keyword) ns->attrs.set(k, v);
          return Value(ns);
        }));
  g.set("dict", Value::function([](CallArgs& a) {
          Dict d;
          for (const auto& [k, v] : a.keyword) d.set(k, v);
          return Value(std::move(d));
        }));
  g.set("raise_exception", Value::function([](CallArgs& a) -> Value {
          fail(ErrorKind::kInvalidArgument, "chat template raised: " + a.get(0, "message").str());
        }));
  g.set("strftime_now", Value::function([](CallArgs& a) {
          const std::time_t now = std::time(nullptr);
          std::tm tm{};
          localtime_r(&now, &tm);
          char buf[256];
          const size_t n = std::strftime(buf, sizeof(buf), a.get(0, "format").str().c_str(), &tm);
          return Value(std::string(buf, n));
        }));
  return g;
}

}  // namespace pagedkv::jinja
