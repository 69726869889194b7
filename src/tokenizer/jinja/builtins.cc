#include "tokenizer/jinja/builtins.h"

#include <unicode/locid.h>
#include <unicode/unistr.h>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace pagedkv::jinja {
namespace {

[[noreturn]] void builtin_error(int line, const std::string& what) {
  fail(ErrorKind::kInvalidArgument, str_cat("chat template: line ", line, ": ", what));
}

// Python's str.isspace() characters.
bool py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::vector<std::string> cs = chars_of(s);
  std::vector<std::string> set;
  const bool custom = chars.is_string();
  if (custom) set = chars_of(chars.as_string());
  auto strip_it = [&](const std::string& c) {
    if (custom) return std::find(set.begin(), set.end(), c) != set.end();
    size_t i = 0;
    return py_space(utf8::next(c, i));
  };
  size_t b = 0, e = cs.size();
  if (left) while (b < e && strip_it(cs[b])) ++b;
  if (right) while (e > b && strip_it(cs[e - 1])) --e;
  std::string out;
  for (size_t i = b; i < e; ++i) out += cs[i];
  return out;
}

std::string case_map(const std::string& s, char how) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(s);
  if (how == 'u') u.toUpper(icu::Locale::getRoot());
  else if (how == 'l') u.toLower(icu::Locale::getRoot());
  else u.toTitle(nullptr, icu::Locale::getRoot());
  std::string out;
  u.toUTF8String(out);
  return out;
}

List py_split(const std::string& s, const Value& sep, int64_t maxsplit) {
  List out;
  if (sep.is_none() || sep.is_undefined()) {
    std::vector<std::string> cs = chars_of(s);
    size_t i = 0;
    while (true) {
      while (i < cs.size()) {
        size_t k = 0;
        if (!py_space(utf8::next(cs[i], k))) break;
        ++i;
      }
      if (i >= cs.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        std::string rest;
        for (size_t j = i; j < cs.size(); ++j) rest += cs[j];
        // Python drops trailing whitespace of the remainder in this form.
        out.push_back(Value(py_strip(rest, Value(), false, true)));
        return out;
      }
      std::string word;
      while (i < cs.size()) {
        size_t k = 0;
        if (py_space(utf8::next(cs[i], k))) break;
        word += cs[i++];
      }
      out.push_back(Value(word));
    }
    return out;
  }
  const std::string& d = sep.as_string();
  if (d.empty()) fail(ErrorKind::kInvalidArgument, "chat template: split: empty separator");
  size_t pos = 0;
  while (true) {
    const size_t hit = s.find(d, pos);
    if (hit == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit)) {
      out.push_back(Value(s.substr(pos)));
      return out;
    }
    out.push_back(Value(s.substr(pos, hit - pos)));
    pos = hit + d.size();
  }
}

std::string py_replace(const std::string& s, const std::string& from, const std::string& to,
                       int64_t count) {
  std::string out;
  if (from.empty()) {  // Python inserts `to` between characters
    std::vector<std::string> cs = chars_of(s);
    int64_t n = 0;
    for (const std::string& c : cs) {
      if (count < 0 || n++ < count) out += to;
      out += c;
    }
    if (count < 0 || n < count) out += to;
    return out;
  }
  size_t pos = 0;
  for (int64_t n = 0; count < 0 || n < count; ++n) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out += s.substr(pos, hit - pos) + to;
    pos = hit + from.size();
  }
  return out + s.substr(pos);
}

int64_t int_arg(const Value& v, int64_t fallback, const char* what, int line) {
  if (v.is_undefined() || v.is_none()) return fallback;
  if (!v.is_int()) builtin_error(line, str_cat(what, ": expected an integer, got ", v.type_name()));
  return v.as_int();
}

Value bound(std::function<Value(CallArgs&)> f) { return Value::function(std::move(f)); }

Value string_method(const std::string& s, const std::string& name, int line) {
  if (name == "startswith" || name == "endswith") {
    const bool start = name == "startswith";
    return bound([s, start, line](CallArgs& a) {
      const Value p = a.get(0, "prefix");
      auto test = [&](const std::string& x) { return start ? s.starts_with(x) : s.ends_with(x); };
      if (p.is_string()) return Value(test(p.as_string()));
      if (p.is_list()) {
        for (const Value& x : p.as_list())
          if (x.is_string() && test(x.as_string())) return Value(true);
        return Value(false);
      }
      builtin_error(line, "startswith/endswith: expected a string or a tuple of strings");
    });
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const bool l = name != "rstrip", r = name != "lstrip";
    return bound([s, l, r](CallArgs& a) { return Value(py_strip(s, a.get(0, "chars"), l, r)); });
  }
  if (name == "split") {
    return bound([s, line](CallArgs& a) {
      return Value(py_split(s, a.get(0, "sep"), int_arg(a.get(1, "maxsplit"), -1, "split", line)));
    });
  }
  if (name == "replace") {
    return bound([s, line](CallArgs& a) {
      const Value from = a.get(0, "old"), to = a.get(1, "new");
      if (!from.is_string() || !to.is_string()) builtin_error(line, "replace: expected strings");
      return Value(py_replace(s, from.as_string(), to.as_string(), int_arg(a.get(2, "count"), -1, "replace", line)));
    });
  }
  if (name == "upper" || name == "lower" || name == "title") {
    const char how = name[0];
    return bound([s, how](CallArgs&) { return Value(case_map(s, how)); });
  }
  if (name == "capitalize") {
    return bound([s](CallArgs&) {
      std::vector<std::string> cs = chars_of(s);
      if (cs.empty()) return Value(std::string());
      std::string rest;
      for (size_t i = 1; i < cs.size(); ++i) rest += cs[i];
      return Value(case_map(cs[0], 'u') + case_map(rest, 'l'));
    });
  }
  if (name == "find" || name == "count") {
    const bool find = name == "find";
    return bound([s, find, line](CallArgs& a) {
      const Value sub = a.get(0, "sub");
      if (!sub.is_string()) builtin_error(line, "find/count: expected a string");
      if (find) {
        const size_t pos = s.find(sub.as_string());
        return Value(pos == std::string::npos ? int64_t{-1} : static_cast<int64_t>(chars_of(s.substr(0, pos)).size()));
      }
      int64_t n = 0;
      if (sub.as_string().empty()) return Value(static_cast<int64_t>(chars_of(s).size()) + 1);
      for (size_t p = s.find(sub.as_string()); p != std::string::npos; p = s.find(sub.as_string(), p + sub.as_string().size())) ++n;
      return Value(n);
    });
  }
  if (name == "join") {
    return bound([s](CallArgs& a) {
      std::string out;
      const List items = iterate(a.get(0, "iterable"), 0);
      for (size_t i = 0; i < items.size(); ++i) out += (i ? s : "") + items[i].str();
      return Value(out);
    });
  }
  return Value(Undefined{name});
}

Value dict_method(const Dict& d, const std::string& name) {
  if (name == "items") {
    return bound([d](CallArgs&) {
      List out;
      for (const auto& [k, v] : d.items) out.push_back(Value(List{Value(k), v}));
      return Value(std::move(out));
    });
  }
  if (name == "keys" || name == "values") {
    const bool keys = name == "keys";
    return bound([d, keys](CallArgs&) {
      List out;
      for (const auto& [k, v] : d.items) out.push_back(keys ? Value(k) : v);
      return Value(std::move(out));
    });
  }
  if (name == "get") {
    return bound([d](CallArgs& a) {
      const Value key = a.get(0, "key");
      const Value* v = key.is_string() ? d.find(key.as_string()) : nullptr;
      return v ? *v : a.get(1, "default", Value(None{}));
    });
  }
  return Value(Undefined{name});
}

Value attr_of(const Value& item, const Value& attribute, int line) {
  if (!attribute.is_string()) return item;
  Value v = item;
  size_t pos = 0;
  const std::string& path = attribute.as_string();
  while (pos <= path.size()) {  // "a.b" walks nested attributes
    const size_t dot = path.find('.', pos);
    const std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
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

std::vector<std::string> chars_of(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const size_t b = i;
    i += std::min(utf8::sequence_length(static_cast<unsigned char>(s[i])), s.size() - i);
    out.push_back(s.substr(b, i - b));
  }
  return out;
}

List iterate(const Value& v, int line) {
  if (v.is_list()) return v.as_list();
  if (v.is_undefined()) return {};
  if (v.is_dict()) {
    List out;
    for (const auto& kv : v.as_dict().items) out.push_back(Value(kv.first));
    return out;
  }
  if (v.is_string()) {
    List out;
    for (std::string& c : chars_of(v.as_string())) out.push_back(Value(std::move(c)));
    return out;
  }
  builtin_error(line, str_cat("'", v.type_name(), "' object is not iterable"));
}

Value get_attr(const Value& obj, const std::string& name, int line) {
  if (obj.is_undefined()) builtin_error(line, str_cat("'", obj.undefined_name(), "' is undefined (reading .", name, ")"));
  if (obj.is_none()) builtin_error(line, str_cat("'None' has no attribute '", name, "'"));
  if (obj.is_dict()) {
    Value m = dict_method(obj.as_dict(), name);
    if (!m.is_undefined()) return m;
    const Value* v = obj.as_dict().find(name);
    return v ? *v : Value(Undefined{name});
  }
  if (obj.is_namespace()) {
    const Value* v = obj.as_namespace().attrs.find(name);
    return v ? *v : Value(Undefined{name});
  }
  if (obj.is_string()) return string_method(obj.as_string(), name, line);
  return Value(Undefined{name});
}

Value get_item(const Value& obj, const Value& key, int line) {
  if (obj.is_undefined()) builtin_error(line, str_cat("'", obj.undefined_name(), "' is undefined (reading [", key.repr(), "])"));
  if (obj.is_none()) builtin_error(line, str_cat("'None' is not subscriptable"));
  if ((obj.is_list() || obj.is_string()) && (key.is_int() || key.is_bool())) {
    const int64_t k = key.is_bool() ? key.as_bool() : key.as_int();
    if (obj.is_list()) {
      const auto n = static_cast<int64_t>(obj.as_list().size());
      const int64_t i = k < 0 ? k + n : k;
      return i >= 0 && i < n ? obj.as_list()[static_cast<size_t>(i)] : Value(Undefined{"[index]"});
    }
    const auto cs = chars_of(obj.as_string());
    const auto n = static_cast<int64_t>(cs.size());
    const int64_t i = k < 0 ? k + n : k;
    return i >= 0 && i < n ? Value(cs[static_cast<size_t>(i)]) : Value(Undefined{"[index]"});
  }
  if (obj.is_dict() && key.is_string()) {
    if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
  }
  if (key.is_string()) return get_attr(obj, key.as_string(), line);
  return Value(Undefined{"[" + key.repr() + "]"});
}

Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step, int line) {
  std::vector<Value> elems;
  if (obj.is_list()) {
    elems = obj.as_list();
  } else if (obj.is_string()) {
    for (std::string& c : chars_of(obj.as_string())) elems.push_back(Value(std::move(c)));
  } else {
    builtin_error(line, str_cat("cannot slice ", obj.type_name()));
  }
  const auto n = static_cast<int64_t>(elems.size());
  const int64_t st = int_arg(step, 1, "slice step", line);
  if (st == 0) builtin_error(line, "slice step cannot be zero");
  auto clamp = [&](const Value& v, int64_t def) {
    if (v.is_none() || v.is_undefined()) return def;
    int64_t i = int_arg(v, def, "slice index", line);
    if (i < 0) i += n;
    if (st > 0) return std::clamp<int64_t>(i, 0, n);
    return std::clamp<int64_t>(i, -1, n - 1);
  };
  const int64_t b = clamp(start, st > 0 ? 0 : n - 1), e = clamp(stop, st > 0 ? n : -1);
  List out;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) out.push_back(elems[static_cast<size_t>(i)]);
  if (obj.is_list()) return Value(std::move(out));
  std::string s;
  for (const Value& c : out) s += c.as_string();
  return Value(std::move(s));
}

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
    if (v.is_none() || arg.is_none() || v.is_bool() || arg.is_bool()) return equals(v, arg) && v.type_name() == arg.type_name();
    return false;
  }
  if (name == "lt" || name == "<" || name == "lessthan") return compare(v, arg) < 0;
  if (name == "le" || name == "<=") return compare(v, arg) <= 0;
  if (name == "gt" || name == ">" || name == "greaterthan") return compare(v, arg) > 0;
  if (name == "ge" || name == ">=") return compare(v, arg) >= 0;
  if (name == "in") {
    if (arg.is_string()) return v.is_string() && arg.as_string().find(v.as_string()) != std::string::npos;
    if (arg.is_dict()) return v.is_string() && arg.as_dict().find(v.as_string()) != nullptr;
    for (const Value& x : iterate(arg, line))
      if (equals(v, x)) return true;
    return false;
  }
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (!v.is_int()) builtin_error(line, str_cat("test '", name, "' needs an integer, got ", v.type_name()));
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
    return Value(py_strip(v.is_undefined() ? std::string() : v.str(), a.get(0, "chars"), true, true));
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
  if (name == "upper" || name == "lower" || name == "title") return Value(case_map(v.str(), name[0]));
  if (name == "capitalize") return string_method(v.str(), "capitalize", line).as_function()(const_cast<CallArgs&>(a));
  if (name == "string") return Value(v.str());
  if (name == "safe" || name == "e" || name == "escape") {
    if (name == "safe") return v;
    std::string out;
    for (char c : v.str()) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
      }
    }
    return Value(out);
  }
  if (name == "default" || name == "d") {
    const bool boolean = a.get(1, "boolean", Value(false)).truthy();
    if (v.is_undefined() || (boolean && !v.truthy())) return a.get(0, "default_value", Value(std::string()));
    return v;
  }
  if (name == "items") {
    if (v.is_undefined()) return Value(List{});
    if (!v.is_dict()) builtin_error(line, str_cat("items: expected a mapping, got ", v.type_name()));
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
    for (size_t i = 0; i < items.size(); ++i) out += (i ? sep.str() : "") + attr_of(items[i], attribute, line).str();
    return Value(out);
  }
  if (name == "replace") {
    const Value from = a.get(0, "old"), to = a.get(1, "new");
    return Value(py_replace(v.str(), from.str(), to.str(), int_arg(a.get(2, "count"), -1, "replace", line)));
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
    const std::string pad = width.is_string() ? width.as_string() : std::string(static_cast<size_t>(int_arg(width, 4, "indent", line)), ' ');
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
      total = total.is_int() && x.is_int() ? Value(total.as_int() + x.as_int()) : Value(total.as_number() + x.as_number());
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
    std::stable_sort(kv.begin(), kv.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
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
    if (step == 0) fail(ErrorKind::kInvalidArgument, "chat template: range() step must not be zero");
    List out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      out.push_back(Value(i));
      if (out.size() > 1000000) fail(ErrorKind::kInvalidArgument, "chat template: range() too long");
    }
    return Value(std::move(out));
  }));
  g.set("namespace", Value::function([](CallArgs& a) {
    auto ns = std::make_shared<Namespace>();
    if (!a.positional.empty() && a.positional[0].is_dict()) ns->attrs = a.positional[0].as_dict();
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
