#pragma once
// A parsed Jinja template, rendered with a dict of global variables.

#include <memory>
#include <string>
#include <string_view>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/value.h"

namespace pagedkv::jinja {

class Template {
 public:
  // Errors (kInvalidArgument: syntax, naming the line; kUnsupported: a construct outside the
  // subset, named) are thrown here, not at render time.
  explicit Template(std::string_view source);
  std::string render(const Dict& globals) const;

 private:
  std::shared_ptr<const Body> body_;
};

}  // namespace pagedkv::jinja
