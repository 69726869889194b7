#pragma once
// The "pre_tokenizer" of a tokenizer.json: splits a normalized piece of text into the words that
// the model tokenizes one by one. Supported: Split (literal or regex pattern, every split
// behaviour, invert), ByteLevel (add_prefix_space, use_regex with GPT-2's pattern), Metaspace
// (replacement, prepend_scheme always/first/never, split), Digits and Sequence of those.
// ByteLevel must come last: it only marks the words as byte-level (the BPE model of such a
// tokenizer works on raw bytes, see byte_level.h), it does not rewrite them.

#include <deque>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace pagedkv {

struct Word {
  std::string_view text;
  bool at_origin = false;  // starts at offset 0 of the original text (Metaspace "first")
};

// Words plus the storage of any text a pre-tokenizer had to rewrite. Views in `words` point into
// the caller's string or into `owned` (a deque: growing it never moves earlier strings).
struct PreTokenized {
  std::vector<Word> words;
  std::deque<std::string> owned;
  void clear() {
    words.clear();
    owned.clear();
  }
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  virtual void apply(PreTokenized& pt) const = 0;
  // True when the last step is ByteLevel: the model's vocabulary is byte-level.
  virtual bool byte_level() const { return false; }
};

// nullptr for a JSON null (the whole piece is one word).
std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec);

}  // namespace pagedkv
