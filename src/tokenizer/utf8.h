#pragma once
// UTF-8 helpers shared by the tokenizer: code point iteration, validation and the lossy
// conversion Hugging Face tokenizers applies when decoded bytes are not valid UTF-8.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pagedkv::utf8 {

// Length of the UTF-8 sequence a lead byte announces (1 for ASCII and for invalid lead bytes).
inline size_t sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

// Decodes the code point at s[i] (s must be valid UTF-8) and advances i past it.
char32_t next(std::string_view s, size_t& i);

// Appends code point c as UTF-8.
void append(std::string& out, char32_t c);

// Byte offset of the first invalid sequence, or npos when s is valid UTF-8 (no surrogates, no
// overlong forms, nothing above U+10FFFF).
size_t first_invalid(std::string_view s);

// Rust's String::from_utf8_lossy: each maximal invalid subpart becomes U+FFFD (the WHATWG
// "substitution of maximal subparts" rule), valid sequences are copied.
std::string lossy(std::string_view bytes);

// Number of bytes at the end of s that form a valid but unfinished sequence (0-3): a prefix of a
// character whose remaining bytes may still arrive. Used by streaming decode.
size_t incomplete_tail(std::string_view s);

}  // namespace pagedkv::utf8
