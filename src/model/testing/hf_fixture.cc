#include "model/testing/hf_fixture.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace pagedkv {

HfFixture load_hf_fixture(const std::string& dir) {
  std::ifstream in(dir + "/expected.json");
  PKV_CHECK(in.good(), NotFound, "cannot open ", dir, "/expected.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  HfFixture f;
  f.dir = dir;
  f.prompts = j.at("prompts").get<std::vector<std::vector<int32_t>>>();
  f.generated = j.at("generated").get<std::vector<std::vector<int32_t>>>();
  f.vocab_size = j.at("vocab_size").get<int64_t>();
  const auto files = j.at("logits").get<std::vector<std::string>>();
  PKV_CHECK(files.size() == f.prompts.size() && f.generated.size() == f.prompts.size(), Corrupt,
            dir, ": expected.json lists mismatch");
  for (size_t i = 0; i < files.size(); ++i) {
    const size_t rows = f.prompts[i].size() + f.generated[i].size() - 1;
    std::vector<float> l(rows * f.vocab_size);
    std::ifstream b(dir + "/" + files[i], std::ios::binary);
    b.read(reinterpret_cast<char*>(l.data()), std::streamsize(l.size() * sizeof(float)));
    PKV_CHECK(b.gcount() == std::streamsize(l.size() * sizeof(float)), Corrupt, dir, "/", files[i],
              ": expected ", rows, " rows of ", f.vocab_size);
    f.logits.push_back(std::move(l));
  }
  return f;
}

double relative_error(std::span<const float> a, std::span<const float> b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

}  // namespace pagedkv
