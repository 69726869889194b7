#include "tokenizer/hf_fixture.h"

#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>

#include "core/error.h"

namespace pagedkv::testing {
namespace {

nlohmann::ordered_json load_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  PKV_CHECK(in.good(), NotFound, "tokenizer fixture ", path.string(),
            " is missing: run `python3 tools/make_tokenizer_fixtures.py` (scripts/test.sh does)");
  return nlohmann::ordered_json::parse(in);
}

}  // namespace

std::filesystem::path tokenizer_fixtures_dir() {
  if (const char* env = std::getenv("PAGEDKV_TOKENIZER_FIXTURES"); env && *env) return env;
  return PAGEDKV_TOKENIZER_FIXTURES;
}

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> docs =
      load_json(tokenizer_fixtures_dir() / "corpus.json").get<std::vector<std::string>>();
  return docs;
}

const nlohmann::ordered_json& conversations() {
  static const nlohmann::ordered_json convs =
      load_json(tokenizer_fixtures_dir() / "conversations.json");
  return convs;
}

const FamilyFixture& family_fixture(const std::string& family) {
  static std::mutex mutex;
  static std::map<std::string, FamilyFixture> cache;
  std::lock_guard lock(mutex);
  auto it = cache.find(family);
  if (it == cache.end()) {
    FamilyFixture f;
    f.family = family;
    f.dir = tokenizer_fixtures_dir() / family;
    f.expected = load_json(f.dir / "expected.json");
    it = cache.emplace(family, std::move(f)).first;
  }
  return it->second;
}

}  // namespace pagedkv::testing
