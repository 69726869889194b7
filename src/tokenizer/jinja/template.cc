#include "tokenizer/jinja/template.h"

#include "tokenizer/jinja/evaluator.h"
#include "tokenizer/jinja/parser.h"

namespace pagedkv::jinja {

Template::Template(std::string_view source) : body_(std::make_shared<Body>(parse(source))) {}

std::string Template::render(const Dict& globals) const {
  Evaluator ev(globals);
  return ev.render(*body_);
}

}  // namespace pagedkv::jinja
