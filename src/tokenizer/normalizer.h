#pragma once
// The "normalizer" of a tokenizer.json: text rewrites applied to each piece of input that is not an
// added token, before pre-tokenization. Supported: NFC, NFD, NFKC, NFKD (ICU), Replace (literal or
// regex), Prepend and Sequence of those; anything else is an Unsupported error naming it.

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>

namespace pagedkv {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual void normalize(std::string& text) const = 0;
};

// nullptr for a JSON null (no normalizer).
std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec);

}  // namespace pagedkv
