#include "tokenizer/jinja/evaluator.h"

#include <cmath>

#include "core/error.h"
#include "tokenizer/jinja/builtins.h"

namespace pagedkv::jinja {
namespace {

[[noreturn]] void eval_error(int line, const std::string& what) {
  fail(ErrorKind::kInvalidArgument, str_cat("chat template: line ", line, ": ", what));
}

std::string repeat(const std::string& s, int64_t n) {
  std::string out;
  for (int64_t i = 0; i < n; ++i) out += s;
  return out;
}

// Python's floor division and modulo (the result takes the divisor's sign).
int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

Evaluator::Evaluator(const Dict& globals) {
  scopes_.emplace_back();
  for (const auto& [k, v] : builtin_globals().items) scopes_[0][k] = v;
  for (const auto& [k, v] : globals.items) scopes_[0][k] = v;
  scopes_.emplace_back();  // the template's own variables
}

std::string Evaluator::render(const Body& body) {
  std::string out;
  exec(body, out);
  return out;
}

Value Evaluator::lookup(const std::string& name) const {
  for (size_t i = scopes_.size(); i-- > 0;) {
    auto it = scopes_[i].find(name);
    if (it != scopes_[i].end()) return it->second;
  }
  return Value(Undefined{name});
}

void Evaluator::assign(const std::string& name, Value v) { scopes_.back()[name] = std::move(v); }

Evaluator::Flow Evaluator::exec(const Body& body, std::string& out) {
  for (const StmtPtr& s : body) {
    const Flow f = exec(*s, out);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

Evaluator::Flow Evaluator::exec(const Stmt& s, std::string& out) {
  switch (s.kind) {
    case Stmt::kText:
      out += s.text;
      break;
    case Stmt::kOutput:
      out += eval(*s.expr).str();
      break;
    case Stmt::kIf:
      for (const auto& [cond, body] : s.branches) {
        if (eval(*cond).truthy()) return exec(body, out);
      }
      return exec(s.else_body, out);
    case Stmt::kFor:
      exec_for(s, out);
      break;
    case Stmt::kSet: {
      Value v = eval(*s.expr);
      if (!s.attr.empty()) {
        Value ns = lookup(s.targets[0]);
        if (!ns.is_namespace()) {
          eval_error(s.line, str_cat("cannot set attribute '", s.attr, "' of ", ns.type_name(),
                                     " '", s.targets[0], "' (only namespace() objects)"));
        }
        ns.as_namespace().attrs.set(s.attr, std::move(v));
      } else if (s.targets.size() == 1) {
        assign(s.targets[0], std::move(v));
      } else {
        if (!v.is_list() || v.as_list().size() != s.targets.size()) {
          eval_error(s.line, str_cat("cannot unpack ", v.type_name(), " into ", s.targets.size(),
                                     " names"));
        }
        for (size_t i = 0; i < s.targets.size(); ++i) assign(s.targets[i], v.as_list()[i]);
      }
      break;
    }
    case Stmt::kSetBlock: {
      std::string text;
      exec(s.body, text);
      assign(s.targets[0], Value(std::move(text)));
      break;
    }
    case Stmt::kBreak:
      return Flow::kBreak;
    case Stmt::kContinue:
      return Flow::kContinue;
    case Stmt::kScope:
      return exec(s.body, out);
    case Stmt::kMacro:
      assign(s.text, make_macro(s));
      break;
  }
  return Flow::kNormal;
}

void Evaluator::exec_for(const Stmt& s, std::string& out) {
  const List all = iterate(eval(*s.expr), s.line);
  auto bind = [&](const Value& item) {
    if (s.targets.size() == 1) {
      assign(s.targets[0], item);
      return;
    }
    if (!item.is_list() || item.as_list().size() != s.targets.size()) {
      eval_error(s.line, str_cat("cannot unpack ", item.type_name(), " into ", s.targets.size(),
                                 " loop variables"));
    }
    for (size_t i = 0; i < s.targets.size(); ++i) assign(s.targets[i], item.as_list()[i]);
  };
  List items;
  if (s.filter) {
    for (const Value& item : all) {
      scopes_.emplace_back();
      bind(item);
      const bool keep = eval(*s.filter).truthy();
      scopes_.pop_back();
      if (keep) items.push_back(item);
    }
  } else {
    items = all;
  }
  const auto n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    scopes_.emplace_back();
    bind(items[static_cast<size_t>(i)]);
    Dict loop;
    loop.set("index", Value(i + 1));
    loop.set("index0", Value(i));
    loop.set("revindex", Value(n - i));
    loop.set("revindex0", Value(n - i - 1));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i == n - 1));
    loop.set("length", Value(n));
    loop.set("depth", Value(1));
    loop.set("depth0", Value(0));
    if (i > 0) loop.set("previtem", items[static_cast<size_t>(i - 1)]);
    if (i + 1 < n) loop.set("nextitem", items[static_cast<size_t>(i + 1)]);
    loop.set("cycle", Value::function([i](CallArgs& a) {
               if (a.positional.empty())
                 fail(ErrorKind::kInvalidArgument, "chat template: loop.cycle() needs arguments");
               return a.positional[static_cast<size_t>(i) % a.positional.size()];
             }));
    assign("loop", Value(std::move(loop)));
    const Flow f = exec(s.body, out);
    scopes_.pop_back();
    if (f == Flow::kBreak) break;
  }
  if (n == 0) {
    scopes_.emplace_back();
    exec(s.else_body, out);
    scopes_.pop_back();
  }
}

Value Evaluator::make_macro(const Stmt& s) {
  return Value::function([this, &s](CallArgs& a) {
    if (++depth_ > 64) eval_error(s.line, str_cat("macro '", s.text, "' recursion too deep"));
    scopes_.emplace_back();
    for (size_t i = 0; i < s.targets.size(); ++i) {
      Value v = a.get(i, s.targets[i].c_str(), Value(Undefined{s.targets[i]}));
      if (v.is_undefined() && s.defaults[i]) v = eval(*s.defaults[i]);
      assign(s.targets[i], std::move(v));
    }
    std::string text;
    exec(s.body, text);
    scopes_.pop_back();
    --depth_;
    return Value(std::move(text));
  });
}

Value Evaluator::call(const Expr& e) {
  CallArgs args;
  const Expr& callee = *e.args[0];
  args.callee = callee.kind == Expr::kName      ? callee.name
                : callee.kind == Expr::kGetAttr ? callee.name
                                                : "function";
  for (size_t i = 1; i < e.args.size(); ++i) args.positional.push_back(eval(*e.args[i]));
  for (const auto& [k, v] : e.kwargs) args.keyword.emplace_back(k, eval(*v));
  const Value f = eval(callee);
  if (f.is_undefined()) eval_error(e.line, str_cat("'", f.undefined_name(), "' is undefined"));
  if (!f.is_callable())
    eval_error(e.line, str_cat("'", args.callee, "' (", f.type_name(), ") is not callable"));
  return f.as_function()(args);
}

Value Evaluator::binary(const Expr& e) {
  const std::string& op = e.name;
  if (op == "and") {
    Value l = eval(*e.args[0]);
    return l.truthy() ? eval(*e.args[1]) : l;
  }
  if (op == "or") {
    Value l = eval(*e.args[0]);
    return l.truthy() ? l : eval(*e.args[1]);
  }
  const Value l = eval(*e.args[0]);
  const Value r = eval(*e.args[1]);
  if (op == "~") return Value(l.str() + r.str());
  if (op == "==") return Value(equals(l, r));
  if (op == "!=") return Value(!equals(l, r));
  if (op == "in" || op == "not in") {
    bool found = false;
    if (r.is_string()) {
      if (!l.is_string()) eval_error(e.line, "'in <string>' requires a string on the left");
      found = r.as_string().find(l.as_string()) != std::string::npos;
    } else if (r.is_list()) {
      for (const Value& v : r.as_list()) found |= equals(l, v);
    } else if (r.is_dict()) {
      found = l.is_string() && r.as_dict().find(l.as_string()) != nullptr;
    } else if (!r.is_undefined()) {
      eval_error(e.line, str_cat("argument of type ", r.type_name(), " is not iterable"));
    }
    return Value(op == "in" ? found : !found);
  }
  if (op == "<" || op == "<=" || op == ">" || op == ">=") {
    if (l.is_undefined() || r.is_undefined()) {
      eval_error(e.line, str_cat("'", l.is_undefined() ? l.undefined_name() : r.undefined_name(),
                                 "' is undefined"));
    }
    const int c = compare(l, r);
    return Value(op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0);
  }
  // Arithmetic.
  auto type_error = [&]() -> Value {
    if (l.is_undefined() || r.is_undefined()) {
      eval_error(e.line, str_cat("'", l.is_undefined() ? l.undefined_name() : r.undefined_name(),
                                 "' is undefined"));
    }
    eval_error(e.line, str_cat("unsupported operand types for ", op, ": ", l.type_name(), " and ",
                               r.type_name()));
  };
  const bool nums = (l.is_number() || l.is_bool()) && (r.is_number() || r.is_bool());
  const bool ints = (l.is_int() || l.is_bool()) && (r.is_int() || r.is_bool());
  auto as_i = [](const Value& v) { return v.is_bool() ? int64_t{v.as_bool()} : v.as_int(); };
  if (op == "+") {
    if (ints) return Value(as_i(l) + as_i(r));
    if (nums) return Value(l.as_number() + r.as_number());
    if (l.is_string() && r.is_string()) return Value(l.as_string() + r.as_string());
    if (l.is_list() && r.is_list()) {
      List out = l.as_list();
      out.insert(out.end(), r.as_list().begin(), r.as_list().end());
      return Value(std::move(out));
    }
    return type_error();
  }
  if (op == "-") {
    if (ints) return Value(as_i(l) - as_i(r));
    if (nums) return Value(l.as_number() - r.as_number());
    return type_error();
  }
  if (op == "*") {
    if (ints) return Value(as_i(l) * as_i(r));
    if (nums) return Value(l.as_number() * r.as_number());
    if (l.is_string() && (r.is_int())) return Value(repeat(l.as_string(), r.as_int()));
    if (r.is_string() && (l.is_int())) return Value(repeat(r.as_string(), l.as_int()));
    return type_error();
  }
  if (!nums) return type_error();
  if ((op == "/" || op == "//" || op == "%") && r.as_number() == 0)
    eval_error(e.line, "division by zero");
  if (op == "/") return Value(l.as_number() / r.as_number());
  if (op == "//") {
    if (ints) return Value(floor_div(as_i(l), as_i(r)));
    return Value(std::floor(l.as_number() / r.as_number()));
  }
  if (op == "%") {
    if (ints) return Value(as_i(l) - floor_div(as_i(l), as_i(r)) * as_i(r));
    const double m = std::fmod(l.as_number(), r.as_number());
    return Value(m != 0 && ((m < 0) != (r.as_number() < 0)) ? m + r.as_number() : m);
  }
  if (op == "**") {
    if (ints && as_i(r) >= 0) {
      int64_t out = 1;
      for (int64_t k = 0; k < as_i(r); ++k) out *= as_i(l);
      return Value(out);
    }
    return Value(std::pow(l.as_number(), r.as_number()));
  }
  eval_error(e.line, str_cat("unknown operator '", op, "'"));
}

Value Evaluator::eval(const Expr& e) {
  switch (e.kind) {
    case Expr::kLiteral:
      return e.literal;
    case Expr::kName:
      return lookup(e.name);
    case Expr::kList:
    case Expr::kTuple: {
      List l;
      for (const ExprPtr& a : e.args) l.push_back(eval(*a));
      return Value(std::move(l));
    }
    case Expr::kDict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        const Value k = eval(*e.args[i]);
        if (!k.is_string()) eval_error(e.line, "dict keys must be strings");
        d.set(k.as_string(), eval(*e.args[i + 1]));
      }
      return Value(std::move(d));
    }
    case Expr::kGetAttr:
      return get_attr(eval(*e.args[0]), e.name, e.line);
    case Expr::kGetItem:
      return get_item(eval(*e.args[0]), eval(*e.args[1]), e.line);
    case Expr::kSlice: {
      auto part = [&](size_t i) { return e.args[i] ? eval(*e.args[i]) : Value(None{}); };
      return slice(eval(*e.args[0]), part(1), part(2), part(3), e.line);
    }
    case Expr::kCall:
      return call(e);
    case Expr::kFilter:
    case Expr::kTest: {
      CallArgs args;
      args.callee = e.name;
      for (size_t i = 1; i < e.args.size(); ++i) args.positional.push_back(eval(*e.args[i]));
      for (const auto& [k, v] : e.kwargs) args.keyword.emplace_back(k, eval(*v));
      const Value target = eval(*e.args[0]);
      if (e.kind == Expr::kFilter) return apply_filter(e.name, target, args, e.line);
      return Value(apply_test(e.name, target, args, e.line) != e.negated);
    }
    case Expr::kUnary: {
      const Value v = eval(*e.args[0]);
      if (e.name == "not") return Value(!v.truthy());
      if (v.is_int()) return Value(e.name == "-" ? -v.as_int() : v.as_int());
      if (v.is_number()) return Value(e.name == "-" ? -v.as_number() : v.as_number());
      eval_error(e.line, str_cat("bad operand type for unary ", e.name, ": ", v.type_name()));
    }
    case Expr::kBinary:
      return binary(e);
    case Expr::kCond:
      if (eval(*e.args[1]).truthy()) return eval(*e.args[0]);
      return e.args[2] ? eval(*e.args[2]) : Value(Undefined{"(else branch)"});
  }
  eval_error(e.line, "unknown expression");
}

}  // namespace pagedkv::jinja
