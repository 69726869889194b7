#pragma once
// Jinja lexer: template source -> tokens. Text between tags becomes kText tokens with the
// whitespace control already applied, as transformers configures Jinja for chat templates:
// trim_blocks (the newline after a block or comment tag is dropped), lstrip_blocks (spaces and
// tabs before a block or comment tag at the start of a line are dropped), "-" on a tag side
// strips all whitespace on that side, "+" turns lstrip/trim off for that side. Comments vanish.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pagedkv::jinja {

struct Token {
  enum Kind {
    kText,
    kVarBegin,
    kVarEnd,
    kBlockBegin,
    kBlockEnd,
    kName,
    kString,
    kInt,
    kFloat,
    kOp,
    kEof
  };
  Kind kind;
  std::string text;  // text, name, string value (unescaped) or operator
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1;
};

// Throws Error(kInvalidArgument) naming the line for an unterminated tag, comment or string.
std::vector<Token> tokenize(std::string_view source);

}  // namespace pagedkv::jinja
