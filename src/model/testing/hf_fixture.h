#pragma once
// Test helper: the HF reference outputs under testdata/<family>/ (tools/make_fixtures.py):
// expected.json {prompts, generated, logits: [files], vocab_size, num_new_tokens} and
// logits_<i>.bin, little-endian f32 [P + N - 1, V]; row t holds the logits after token t of
// prompt ++ generated.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace pagedkv {

struct HfFixture {
  std::string dir;
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::vector<int32_t>> generated;
  std::vector<std::vector<float>> logits;  // [prompt][(P + N - 1) * V]
  int64_t vocab_size = 0;
};

HfFixture load_hf_fixture(const std::string& dir);

// ‖a − b‖ / ‖b‖ over one row.
double relative_error(std::span<const float> a, std::span<const float> b);

}  // namespace pagedkv
