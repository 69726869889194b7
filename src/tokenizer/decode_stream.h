#pragma once
// Streaming detokenizer: fed the generated ids one at a time, returns only text that can no
// longer change, never half a UTF-8 character, so that the concatenation of everything step()
// and finish() return equals tokenizer.decode(all ids).
//
// It keeps a small window: one already-printed context token plus the ids not printed yet, and
// prints decode(window) minus decode(context). Decoding a window is enough because the
// supported decoders only couple a token to its neighbours through (a) bytes of one UTF-8
// character split across byte-level tokens, (b) runs of <0xNN> byte-fallback pieces, whose text
// depends on the whole run, and (c) rules for the first token (Metaspace, Strip), which the
// context token absorbs. So the window is held while its text ends in U+FFFD (maybe an
// unfinished character) or in a byte-fallback piece; finish() releases whatever is held.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace pagedkv {

class DecodeStream {
 public:
  DecodeStream(const Tokenizer& tokenizer, bool skip_special_tokens);

  // Newly completed text after id (often empty while a character is unfinished).
  std::string step(int32_t id);
  // The rest (held bytes that never completed come out as U+FFFD, as decode() has them);
  // the stream is then empty and may be reused.
  std::string finish();

 private:
  bool ends_in_byte_piece() const;

  std::shared_ptr<const TokenizerImpl> impl_;
  bool skip_special_;
  std::vector<int32_t> window_;  // [context token (if any), pending ids...]
  bool has_context_ = false;
  std::string context_text_;  // decode(context token) within this window
};

}  // namespace pagedkv
