#pragma once
// Jinja evaluator: renders a parsed template with a set of global variables. Scoping is Jinja's:
// a for loop body gets a fresh scope per iteration (so `set` inside a loop does not leak, and
// does not survive to the next iteration; namespace() objects are how templates carry state
// out), `if` does not open a scope, macros see their arguments and the template's globals.

#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/value.h"

namespace pagedkv::jinja {

class Evaluator {
 public:
  explicit Evaluator(const Dict& globals);
  std::string render(const Body& body);

  Value eval(const Expr& e);

 private:
  enum class Flow { kNormal, kBreak, kContinue };
  Flow exec(const Body& body, std::string& out);
  Flow exec(const Stmt& s, std::string& out);
  void exec_for(const Stmt& s, std::string& out);
  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value v);
  Value binary(const Expr& e);
  Value call(const Expr& e);
  Value make_macro(const Stmt& s);

  std::vector<std::unordered_map<std::string, Value>> scopes_;
  int depth_ = 0;  // macro recursion guard
};

}  // namespace pagedkv::jinja
