#include "tokenizer/jinja/parser.h"

#include <initializer_list>

#include "core/error.h"

namespace pagedkv::jinja {
namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  Body parse_template() {
    std::string stop;
    Body body = parse_body({}, stop);
    if (peek().kind != Token::kEof) error("unexpected '{% " + stop + " %}'");
    return body;
  }

 private:
  // ---- token helpers
  const Token& peek(size_t ahead = 0) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
  const Token& next() { return t_[std::min(pos_++, t_.size() - 1)]; }
  bool is_op(const char* op, size_t ahead = 0) const {
    return peek(ahead).kind == Token::kOp && peek(ahead).text == op;
  }
  bool is_name(const char* name, size_t ahead = 0) const {
    return peek(ahead).kind == Token::kName && peek(ahead).text == name;
  }
  bool accept_op(const char* op) {
    if (!is_op(op)) return false;
    ++pos_;
    return true;
  }
  bool accept_name(const char* name) {
    if (!is_name(name)) return false;
    ++pos_;
    return true;
  }
  [[noreturn]] void error(const std::string& what) const {
    fail(ErrorKind::kInvalidArgument, str_cat("chat template: line ", peek().line, ": ", what));
  }
  [[noreturn]] void unsupported(const std::string& what) const {
    fail(ErrorKind::kUnsupported, str_cat("chat template: line ", peek().line, ": ", what,
                                          " is not supported by pagedkv's Jinja subset"));
  }
  void expect_op(const char* op) {
    if (!accept_op(op)) error(str_cat("expected '", op, "', got '", describe(peek()), "'"));
  }
  std::string expect_name() {
    if (peek().kind != Token::kName)
      error(str_cat("expected a name, got '", describe(peek()), "'"));
    return next().text;
  }
  void expect_block_end() {
    if (peek().kind != Token::kBlockEnd)
      error(str_cat("expected '%}', got '", describe(peek()), "'"));
    ++pos_;
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Token::kBlockEnd:
        return "%}";
      case Token::kVarEnd:
        return "}}";
      case Token::kEof:
        return "end of template";
      case Token::kString:
        return "'" + t.text + "'";
      case Token::kInt:
        return std::to_string(t.int_value);
      case Token::kFloat:
        return format_float(t.float_value);
      default:
        return t.text;
    }
  }
  ExprPtr make(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // ---- statements

  // Parses until a block tag whose keyword is in `stops` (left unconsumed after "{%": the
  // keyword is returned in stop) or the end of input.
  Body parse_body(std::initializer_list<const char*> stops, std::string& stop) {
    Body body;
    while (true) {
      const Token& tok = peek();
      if (tok.kind == Token::kEof) {
        if (stops.size() != 0) error(str_cat("missing '{% ", *(stops.end() - 1), " %}'"));
        return body;
      }
      if (tok.kind == Token::kText) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::kText;
        s->line = tok.line;
        s->text = next().text;
        body.push_back(std::move(s));
      } else if (tok.kind == Token::kVarBegin) {
        ++pos_;
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::kOutput;
        s->line = tok.line;
        s->expr = parse_tuple_or_expr();
        if (peek().kind != Token::kVarEnd)
          error(str_cat("expected '}}', got '", describe(peek()), "'"));
        ++pos_;
        body.push_back(std::move(s));
      } else if (tok.kind == Token::kBlockBegin) {
        const Token& kw = peek(1);
        for (const char* s : stops) {
          if (kw.kind == Token::kName && kw.text == s) {
            pos_ += 2;
            stop = s;
            return body;
          }
        }
        ++pos_;
        body.push_back(parse_statement());
      } else {
        error(str_cat("unexpected '", describe(tok), "'"));
      }
    }
  }

  StmtPtr parse_statement() {
    const int line = peek().line;
    const std::string kw = expect_name();
    auto s = std::make_unique<Stmt>();
    s->line = line;
    if (kw == "if") {
      s->kind = Stmt::kIf;
      std::string stop;
      ExprPtr cond = parse_expr();
      expect_block_end();
      while (true) {
        Body b = parse_body({"elif", "else", "endif"}, stop);
        s->branches.emplace_back(std::move(cond), std::move(b));
        if (stop != "elif") break;
        cond = parse_expr();
        expect_block_end();
      }
      if (stop == "else") {
        expect_block_end();
        s->else_body = parse_body({"endif"}, stop);
      }
      expect_block_end();
    } else if (kw == "for") {
      s->kind = Stmt::kFor;
      do s->targets.push_back(expect_name());
      while (accept_op(","));
      if (!accept_name("in")) error("expected 'in' in for loop");
      s->expr = parse_or();  // no conditional here: "if" starts the loop filter
      if (accept_name("if")) s->filter = parse_or();
      if (is_name("recursive")) unsupported("recursive for loops");
      expect_block_end();
      std::string stop;
      s->body = parse_body({"else", "endfor"}, stop);
      if (stop == "else") {
        expect_block_end();
        s->else_body = parse_body({"endfor"}, stop);
      }
      expect_block_end();
    } else if (kw == "set") {
      const std::string first = expect_name();
      if (accept_op(".")) {
        s->kind = Stmt::kSet;
        s->targets = {first};
        s->attr = expect_name();
      } else {
        s->targets = {first};
        while (accept_op(",")) s->targets.push_back(expect_name());
        s->kind = Stmt::kSet;
      }
      if (accept_op("=")) {
        s->expr = parse_tuple_or_expr();
        expect_block_end();
      } else {
        if (s->targets.size() != 1 || !s->attr.empty()) error("block set takes one name");
        if (peek().kind == Token::kOp && peek().text == "|") unsupported("filtered block set");
        s->kind = Stmt::kSetBlock;
        expect_block_end();
        std::string stop;
        s->body = parse_body({"endset"}, stop);
        expect_block_end();
      }
    } else if (kw == "macro") {
      s->kind = Stmt::kMacro;
      s->text = expect_name();
      expect_op("(");
      while (!accept_op(")")) {
        s->targets.push_back(expect_name());
        s->defaults.push_back(accept_op("=") ? parse_expr() : nullptr);
        if (!is_op(")")) expect_op(",");
      }
      expect_block_end();
      std::string stop;
      s->body = parse_body({"endmacro"}, stop);
      if (peek().kind == Token::kName) ++pos_;  // {% endmacro name %}
      expect_block_end();
    } else if (kw == "break" || kw == "continue") {
      s->kind = kw == "break" ? Stmt::kBreak : Stmt::kContinue;
      expect_block_end();
    } else if (kw == "generation") {
      // transformers' AssistantTracker extension: marks assistant text; renders its body.
      s->kind = Stmt::kScope;
      expect_block_end();
      std::string stop;
      s->body = parse_body({"endgeneration"}, stop);
      expect_block_end();
    } else {
      unsupported(str_cat("the '{% ", kw, " %}' tag"));
    }
    return s;
  }

  // ---- expressions

  ExprPtr parse_tuple_or_expr() {
    const int line = peek().line;
    ExprPtr first = parse_expr();
    if (!is_op(",")) return first;
    auto t = make(Expr::kTuple, line);
    t->args.push_back(std::move(first));
    while (accept_op(",")) {
      if (peek().kind == Token::kBlockEnd || peek().kind == Token::kVarEnd) break;
      t->args.push_back(parse_expr());
    }
    return t;
  }

  ExprPtr parse_expr() {
    const int line = peek().line;
    ExprPtr e = parse_or();
    if (accept_name("if")) {
      auto c = make(Expr::kCond, line);
      c->args.push_back(std::move(e));
      c->args.push_back(parse_or());
      c->args.push_back(accept_name("else") ? parse_expr() : nullptr);
      return c;
    }
    return e;
  }

  ExprPtr binary(const std::string& op, ExprPtr l, ExprPtr r, int line) {
    auto b = make(Expr::kBinary, line);
    b->name = op;
    b->args.push_back(std::move(l));
    b->args.push_back(std::move(r));
    return b;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
      const int line = next().line;
      e = binary("or", std::move(e), parse_and(), line);
    }
    return e;
  }
  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
      const int line = next().line;
      e = binary("and", std::move(e), parse_not(), line);
    }
    return e;
  }
  ExprPtr parse_not() {
    if (is_name("not")) {
      const int line = next().line;
      auto u = make(Expr::kUnary, line);
      u->name = "not";
      u->args.push_back(parse_not());
      return u;
    }
    return parse_compare();
  }
  ExprPtr parse_compare() {
    ExprPtr e = parse_math1();
    while (true) {
      const int line = peek().line;
      std::string op;
      if (peek().kind == Token::kOp &&
          (peek().text == "==" || peek().text == "!=" || peek().text == "<" ||
           peek().text == "<=" || peek().text == ">" || peek().text == ">=")) {
        op = next().text;
      } else if (is_name("in")) {
        ++pos_;
        op = "in";
      } else if (is_name("not") && is_name("in", 1)) {
        pos_ += 2;
        op = "not in";
      } else {
        return e;
      }
      e = binary(op, std::move(e), parse_math1(), line);
    }
  }
  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Token& op = next();
      e = binary(op.text, std::move(e), parse_concat(), op.line);
    }
    return e;
  }
  ExprPtr parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
      const int line = next().line;
      e = binary("~", std::move(e), parse_math2(), line);
    }
    return e;
  }
  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Token& op = next();
      e = binary(op.text, std::move(e), parse_pow(), op.line);
    }
    return e;
  }
  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    while (is_op("**")) {
      const int line = next().line;
      e = binary("**", std::move(e), parse_unary(true), line);
    }
    return e;
  }
  ExprPtr parse_unary(bool with_filter) {
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      const Token& op = next();
      e = make(Expr::kUnary, op.line);
      e->name = op.text;
      e->args.push_back(parse_unary(false));
    } else {
      e = parse_postfix(parse_primary());
    }
    if (with_filter) e = parse_filters(std::move(e));
    return e;
  }

  ExprPtr parse_primary() {
    const Token& tok = peek();
    const int line = tok.line;
    if (tok.kind == Token::kName) {
      ++pos_;
      auto e = make(Expr::kLiteral, line);
      if (tok.text == "true" || tok.text == "True")
        e->literal = Value(true);
      else if (tok.text == "false" || tok.text == "False")
        e->literal = Value(false);
      else if (tok.text == "none" || tok.text == "None")
        e->literal = Value(None{});
      else {
        e->kind = Expr::kName;
        e->name = tok.text;
      }
      return e;
    }
    if (tok.kind == Token::kString) {
      std::string s;
      while (peek().kind == Token::kString) s += next().text;  // adjacent literals concatenate
      auto e = make(Expr::kLiteral, line);
      e->literal = Value(std::move(s));
      return e;
    }
    if (tok.kind == Token::kInt || tok.kind == Token::kFloat) {
      ++pos_;
      auto e = make(Expr::kLiteral, line);
      e->literal = tok.kind == Token::kInt ? Value(tok.int_value) : Value(tok.float_value);
      return e;
    }
    if (accept_op("(")) {
      if (accept_op(")")) return make(Expr::kTuple, line);
      ExprPtr first = parse_expr();
      if (accept_op(")")) return first;
      auto t = make(Expr::kTuple, line);
      t->args.push_back(std::move(first));
      while (accept_op(",")) {
        if (is_op(")")) break;
        t->args.push_back(parse_expr());
      }
      expect_op(")");
      return t;
    }
    if (accept_op("[")) {
      auto l = make(Expr::kList, line);
      while (!accept_op("]")) {
        l->args.push_back(parse_expr());
        if (!is_op("]")) expect_op(",");
      }
      return l;
    }
    if (accept_op("{")) {
      auto d = make(Expr::kDict, line);
      while (!accept_op("}")) {
        d->args.push_back(parse_expr());
        expect_op(":");
        d->args.push_back(parse_expr());
        if (!is_op("}")) expect_op(",");
      }
      return d;
    }
    error(str_cat("unexpected '", describe(tok), "'"));
  }

  void parse_call_args(Expr& call) {
    while (!accept_op(")")) {
      if (peek().kind == Token::kName && is_op("=", 1)) {
        std::string key = next().text;
        ++pos_;
        call.kwargs.emplace_back(std::move(key), parse_expr());
      } else {
        if (is_op("*") || is_op("**")) unsupported("argument unpacking (*args / **kwargs)");
        call.args.push_back(parse_expr());
      }
      if (!is_op(")")) expect_op(",");
    }
  }

  ExprPtr parse_postfix(ExprPtr e) {
    while (true) {
      const int line = peek().line;
      if (accept_op(".")) {
        auto a = make(Expr::kGetAttr, line);
        if (peek().kind == Token::kInt) {  // foo.0 is foo[0] in Jinja
          a->kind = Expr::kGetItem;
          a->args.push_back(std::move(e));
          auto idx = make(Expr::kLiteral, line);
          idx->literal = Value(next().int_value);
          a->args.push_back(std::move(idx));
        } else {
          a->name = expect_name();
          a->args.push_back(std::move(e));
        }
        e = std::move(a);
      } else if (accept_op("[")) {
        ExprPtr parts[3];
        int n = 0;
        bool slice = false;
        while (true) {
          if (!is_op(":") && !is_op("]")) parts[n] = parse_expr();
          if (accept_op(":")) {
            slice = true;
            if (++n > 2) error("too many ':' in slice");
            continue;
          }
          expect_op("]");
          break;
        }
        if (!slice) {
          if (!parts[0]) error("empty subscript");
          auto g = make(Expr::kGetItem, line);
          g->args.push_back(std::move(e));
          g->args.push_back(std::move(parts[0]));
          e = std::move(g);
        } else {
          auto s = make(Expr::kSlice, line);
          s->args.push_back(std::move(e));
          for (auto& p : parts) s->args.push_back(std::move(p));
          e = std::move(s);
        }
      } else if (accept_op("(")) {
        auto c = make(Expr::kCall, line);
        c->args.push_back(std::move(e));
        parse_call_args(*c);
        e = std::move(c);
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_filters(ExprPtr e) {
    while (true) {
      const int line = peek().line;
      if (accept_op("|")) {
        auto f = make(Expr::kFilter, line);
        f->name = expect_name();
        while (accept_op(".")) f->name += "." + expect_name();
        f->args.push_back(std::move(e));
        if (accept_op("(")) parse_call_args(*f);
        e = std::move(f);
      } else if (accept_name("is")) {
        auto t = make(Expr::kTest, line);
        t->negated = accept_name("not");
        t->name = expect_name();
        t->args.push_back(std::move(e));
        if (accept_op("(")) {
          parse_call_args(*t);
        } else if ((peek().kind == Token::kString || peek().kind == Token::kInt ||
                    peek().kind == Token::kFloat || is_op("[") || is_op("{") ||
                    (peek().kind == Token::kName && !is_name("else") && !is_name("or") &&
                     !is_name("and") && !is_name("if") && !is_name("in") && !is_name("not")))) {
          t->args.push_back(parse_postfix(parse_primary()));  // "is divisibleby 3"
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  std::vector<Token> t_;
  size_t pos_ = 0;
};

}  // namespace

Body parse(std::string_view source) { return Parser(tokenize(source)).parse_template(); }

}  // namespace pagedkv::jinja
