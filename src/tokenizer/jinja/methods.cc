// Python semantics of str / dict / list operations that templates use: attribute and item
// access, slicing, iteration, and the methods (startswith, split, strip, items, get, ...).

#include <unicode/locid.h>
#include <unicode/unistr.h>

#include <algorithm>

#include "core/error.h"
#include "tokenizer/jinja/builtins.h"
#include "tokenizer/jinja/py_str.h"
#include "tokenizer/utf8.h"

namespace pagedkv::jinja {
namespace detail {

[[noreturn]] void builtin_error(int line, const std::string& what) {
  fail(ErrorKind::kInvalidArgument, str_cat("chat template: line ", line, ": ", what));
}

// Python's str.isspace() characters.
bool py_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
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
  if (left)
    while (b < e && strip_it(cs[b])) ++b;
  if (right)
    while (e > b && strip_it(cs[e - 1])) --e;
  std::string out;
  for (size_t i = b; i < e; ++i) out += cs[i];
  return out;
}

std::string case_map(const std::string& s, char how) {
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(s);
  if (how == 'u')
    u.toUpper(icu::Locale::getRoot());
  else if (how == 'l')
    u.toLower(icu::Locale::getRoot());
  else
    u.toTitle(nullptr, icu::Locale::getRoot());
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
    if (hit == std::string::npos ||
        (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit)) {
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

namespace {
Value bound(std::function<Value(CallArgs&)> f) { return Value::function(std::move(f)); }
}  // namespace

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
      return Value(py_replace(s, from.as_string(), to.as_string(),
                              int_arg(a.get(2, "count"), -1, "replace", line)));
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
        return Value(pos == std::string::npos
                         ? int64_t{-1}
                         : static_cast<int64_t>(chars_of(s.substr(0, pos)).size()));
      }
      int64_t n = 0;
      if (sub.as_string().empty()) return Value(static_cast<int64_t>(chars_of(s).size()) + 1);
      for (size_t p = s.find(sub.as_string()); p != std::string::npos;
           p = s.find(sub.as_string(), p + sub.as_string().size()))
        ++n;
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

}  // namespace detail

using namespace detail;

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
  if (obj.is_undefined())
    builtin_error(line, str_cat("'", obj.undefined_name(), "' is undefined (reading .", name, ")"));
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
  if (obj.is_undefined())
    builtin_error(
        line, str_cat("'", obj.undefined_name(), "' is undefined (reading [", key.repr(), "])"));
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

}  // namespace pagedkv::jinja
