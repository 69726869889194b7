#pragma once
// A compiled PCRE2 pattern (UTF + UCP, JIT when available) with the find-all loop the
// pre-tokenizers need. HF tokenizers runs its patterns on Oniguruma; PCRE2 has the same
// leftmost-first (Perl) semantics, Unicode properties (\p{L}, \p{N}), lookahead and scoped
// flags (?i:...). The one class that differs is \s: Oniguruma's is the Unicode White_Space
// property, PCRE2's (with UCP) lacks U+0085 (NEL), so the pattern is rewritten to add it.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pagedkv {

class Regex {
 public:
  // Throws Error(kCorrupt) naming `what` and PCRE2's message when the pattern does not compile.
  Regex(std::string_view pattern, std::string_view what);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Byte ranges [begin, end) of all non-overlapping matches in text, left to right. An empty
  // match advances by one character, as Oniguruma's find_iter does.
  void find_all(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::string pattern_;
  std::unique_ptr<Impl> impl_;
};

// The Oniguruma-compatible form of a pattern (see above); exposed for tests.
std::string oniguruma_to_pcre2(std::string_view pattern);

}  // namespace pagedkv
