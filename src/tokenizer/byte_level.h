#pragma once
// GPT-2's byte-level alphabet: every byte maps to one printable code point (printable ASCII and
// Latin-1 map to themselves, the other 68 bytes to U+0100..U+0143), so that a byte-level BPE
// vocabulary can be stored as text. pagedkv converts such vocabularies back to raw bytes once at
// load time and runs BPE on the text's own bytes: no per-call mapping on the hot path.

#include <optional>
#include <string>
#include <string_view>

namespace pagedkv::byte_level {

// The code point byte b is written as.
char32_t char_of(unsigned char b);

// The byte a code point stands for, if it is one of the 256 alphabet characters.
std::optional<unsigned char> byte_of(char32_t c);

// Raw bytes of a byte-level string (e.g. "Ġhello" -> " hello"); nullopt if some character is
// outside the alphabet.
std::optional<std::string> to_bytes(std::string_view text);

// The byte-level form of raw bytes (" hello" -> "Ġhello").
std::string from_bytes(std::string_view bytes);

}  // namespace pagedkv::byte_level
