#pragma once
// Syntax tree of a Jinja template: expressions and statements, as the parser builds them and the
// evaluator walks them.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace pagedkv::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum Kind {
    kLiteral,  // literal
    kName,     // name
    kList,     // args = items
    kTuple,    // args = items
    kDict,     // args = key, value, key, value, ...
    kGetAttr,  // args[0].name
    kGetItem,  // args[0][args[1]]
    kSlice,    // args[0][args[1]:args[2]:args[3]] (null parts allowed)
    kCall,     // args[0](args[1..], kwargs)
    kFilter,   // args[0] | name(args[1..], kwargs)
    kTest,     // args[0] is [not] name(args[1..])
    kUnary,    // name = "not" | "-" | "+"; args[0]
    kBinary,   // name = operator; args[0], args[1]
    kCond,     // args[0] if args[1] else args[2] (args[2] may be null)
  };
  Kind kind;
  int line = 0;
  Value literal;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  bool negated = false;  // kTest: "is not"
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  enum Kind { kText, kOutput, kIf, kFor, kSet, kSetBlock, kBreak, kContinue, kScope, kMacro };
  Kind kind;
  int line = 0;
  std::string text;                  // kText; kMacro: name
  ExprPtr expr;                      // kOutput, kFor (iterable), kSet (value)
  std::vector<std::string> targets;  // kFor loop variables, kSet/kSetBlock names, kMacro params
  std::string attr;                  // kSet "ns.attr": targets = {"ns"}, attr = "attr"
  ExprPtr filter;                    // kFor: "for x in xs if filter"
  std::vector<std::pair<ExprPtr, Body>> branches;  // kIf: if / elif
  Body body;                                       // kFor, kSetBlock, kScope, kMacro
  Body else_body;                                  // kIf, kFor
  std::vector<ExprPtr> defaults;                   // kMacro: default of each parameter (null: none)
};

}  // namespace pagedkv::jinja
