#include "tokenizer/generation_config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace pagedkv {
namespace {

constexpr const char* kWhere = "generation_config.json";

int32_t as_id(const nlohmann::json& v, const char* key) {
  PKV_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < (1LL << 31),
            Corrupt, kWhere, ": ", key, ": expected a non-negative integer id, got ", v.dump());
  return v.get<int32_t>();
}

template <typename T>
std::optional<T> optional_number(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if constexpr (std::is_same_v<T, bool>) {
    PKV_CHECK(it->is_boolean(), Corrupt, kWhere, ": ", key, ": expected true or false");
  } else {
    PKV_CHECK(it->is_number(), Corrupt, kWhere, ": ", key, ": expected a number, got ", it->dump());
  }
  return it->get<T>();
}

}  // namespace

GenerationConfig parse_generation_config(const nlohmann::json& j) {
  PKV_CHECK(j.is_object(), Corrupt, kWhere, ": expected a JSON object");
  GenerationConfig g;
  if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
    if (it->is_array()) {
      for (const auto& v : *it) g.eos_token_ids.push_back(as_id(v, "eos_token_id"));
    } else {
      g.eos_token_ids.push_back(as_id(*it, "eos_token_id"));
    }
  }
  if (auto it = j.find("bos_token_id"); it != j.end() && !it->is_null())
    g.bos_token_id = as_id(*it, "bos_token_id");
  if (auto it = j.find("pad_token_id"); it != j.end() && !it->is_null())
    g.pad_token_id = as_id(*it, "pad_token_id");
  g.do_sample = optional_number<bool>(j, "do_sample");
  g.temperature = optional_number<double>(j, "temperature");
  g.top_p = optional_number<double>(j, "top_p");
  g.top_k = optional_number<int32_t>(j, "top_k");
  return g;
}

GenerationConfig load_generation_config(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in.good()) return {};
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    fail(ErrorKind::kCorrupt, str_cat(path.string(), ": not valid JSON: ", e.what()));
  }
  return parse_generation_config(j);
}

}  // namespace pagedkv
