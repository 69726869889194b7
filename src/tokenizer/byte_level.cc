#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace pagedkv::byte_level {
namespace {

struct Tables {
  std::array<char32_t, 256> to_char{};
  std::array<int, 0x144> to_byte{};  // code points < 0x144 only; -1: not in the alphabet
  Tables() {
    to_byte.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      to_char[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      to_byte[to_char[b]] = b;
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t char_of(unsigned char b) { return tables().to_char[b]; }

std::optional<unsigned char> byte_of(char32_t c) {
  if (c >= tables().to_byte.size() || tables().to_byte[c] < 0) return std::nullopt;
  return static_cast<unsigned char>(tables().to_byte[c]);
}

std::optional<std::string> to_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto b = byte_of(utf8::next(text, i));
    if (!b) return std::nullopt;
    out += static_cast<char>(*b);
  }
  return out;
}

std::string from_bytes(std::string_view bytes) {
  std::string out;
  for (unsigned char b : bytes) utf8::append(out, char_of(b));
  return out;
}

}  // namespace pagedkv::byte_level
