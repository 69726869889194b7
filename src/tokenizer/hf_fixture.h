#pragma once
// Loads tools/make_tokenizer_fixtures.py's output for the tests: the corpus and, per family, the
// tokenizer directory and HF's expected answers. Missing fixtures are a test failure (the message
// says how to make them), never a skip.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace pagedkv::testing {

// $PAGEDKV_TOKENIZER_FIXTURES, else the build tree default compiled in.
std::filesystem::path tokenizer_fixtures_dir();

struct FamilyFixture {
  std::string family;
  std::filesystem::path dir;        // tokenizer.json, tokenizer_config.json, generation_config.json
  nlohmann::ordered_json expected;  // expected.json
};

// Throws (so the test fails) with a how-to message when a file is missing.
const std::vector<std::string>& corpus();
const nlohmann::ordered_json& conversations();
const FamilyFixture& family_fixture(const std::string& family);

}  // namespace pagedkv::testing
