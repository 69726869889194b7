#pragma once
// A bound on how deeply a JSON text nests arrays and objects, checked on the text before it is
// parsed. nlohmann's parser and destructor are iterative, but copying a value, comparing it and
// dump() recurse once per level, so a small hostile file ("[[[[..." 100k deep: 200 KB) would
// overflow the stack the first time the value is copied or echoed in an error message. Every JSON
// text from outside (config.json, model.safetensors.index.json, safetensors headers, tokenizer
// files, request bodies) goes through this first. One pass over the bytes (~1 GB/s), no
// allocation; real files nest a handful of levels (config.json 3, tokenizer.json 6).

#include <string_view>

namespace pagedkv {

inline constexpr int kMaxJsonDepth = 128;

// The deepest nesting of `text` (0 for a scalar; strings and their escapes are skipped), stopping
// early once it exceeds `limit`.
int json_nesting_depth(std::string_view text, int limit = kMaxJsonDepth);

// Error(Corrupt) "<what>: JSON nested deeper than 128 levels" when the text nests too deeply.
void check_json_depth(std::string_view text, std::string_view what, int limit = kMaxJsonDepth);

}  // namespace pagedkv
