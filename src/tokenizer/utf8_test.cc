#include "tokenizer/utf8.h"

#include <gtest/gtest.h>

#include "tokenizer/byte_level.h"

namespace pagedkv {
namespace {

TEST(Utf8, FirstInvalid) {
  EXPECT_EQ(utf8::first_invalid("abc"), std::string::npos);
  EXPECT_EQ(utf8::first_invalid("a\xE4\xB8\xAD"), std::string::npos);
  EXPECT_EQ(utf8::first_invalid("a\x80"), 1u);
  EXPECT_EQ(utf8::first_invalid("ab\xC0\x80"), 2u);         // overlong
  EXPECT_EQ(utf8::first_invalid("\xED\xA0\x80"), 0u);       // surrogate
  EXPECT_EQ(utf8::first_invalid("x\xF4\x90\x80\x80"), 1u);  // above U+10FFFF
  EXPECT_EQ(utf8::first_invalid("\xE4\xB8"), 0u);           // truncated
}

TEST(Utf8, LossyReplacesMaximalSubparts) {
  // Rust's from_utf8_lossy / WHATWG: one U+FFFD per maximal invalid subpart.
  EXPECT_EQ(utf8::lossy("a\xE4\xB8"
                        "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(utf8::lossy("\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(utf8::lossy("\xF0\x9F\x98"), "\xEF\xBF\xBD");
  EXPECT_EQ(utf8::lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(utf8::lossy("ok \xE4\xB8\xAD"), "ok \xE4\xB8\xAD");
}

TEST(Utf8, IncompleteTail) {
  EXPECT_EQ(utf8::incomplete_tail("abc"), 0u);
  EXPECT_EQ(utf8::incomplete_tail("a\xE4"), 1u);
  EXPECT_EQ(utf8::incomplete_tail("a\xE4\xB8"), 2u);
  EXPECT_EQ(utf8::incomplete_tail("a\xE4\xB8\xAD"), 0u);
  EXPECT_EQ(utf8::incomplete_tail("\xF0\x9F\x98"), 3u);
  EXPECT_EQ(utf8::incomplete_tail("a\x80"), 0u);      // invalid, not unfinished
  EXPECT_EQ(utf8::incomplete_tail("a\xE0\x80"), 0u);  // E0 80 can never complete
}

TEST(ByteLevel, RoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::string text = byte_level::from_bytes(all);
  EXPECT_EQ(byte_level::to_bytes(text), all);
  EXPECT_EQ(byte_level::from_bytes(" hello"), "\xC4\xA0hello");  // "Ġhello"
  EXPECT_FALSE(byte_level::to_bytes("\xE4\xB8\xAD").has_value());
}

}  // namespace
}  // namespace pagedkv
