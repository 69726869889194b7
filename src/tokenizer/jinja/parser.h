#pragma once
// Jinja parser: tokens -> statement tree. Statements: if/elif/else, for (tuple targets, "if"
// filter, else, recursive not supported), set (name, tuple, namespace attribute, block form),
// macro, break/continue, and transformers' {% generation %} (rendered as its body). Expressions
// follow Jinja's precedence (conditional < or < and < not < comparisons/in < + - < ~ < * / // %
// < ** < unary, then attribute/subscript/slice/call and |filter / is test). Anything else
// (include, extends, import, raw, call blocks, ...) is an Unsupported error naming the construct.

#include <string_view>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"

namespace pagedkv::jinja {

Body parse(std::string_view source);

}  // namespace pagedkv::jinja
