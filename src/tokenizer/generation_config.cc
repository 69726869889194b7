#include "tokenizer/generation_config.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_depth.h"
#include "core/regular_file.h"

namespace pagedkv {
namespace {

constexpr const char* kWhere = "generation_config.json";

int32_t as_id(const nlohmann::json& v, const char* key) {
  PKV_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < (1LL << 31),
            Corrupt, kWhere, ": ", key, ": expected a non-negative integer id, got ",
            v.is_number() ? v.dump() : std::string(v.type_name()));
  return v.get<int32_t>();
}

template <typename T>
std::optional<T> optional_number(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if constexpr (std::is_same_v<T, bool>) {
    PKV_CHECK(it->is_boolean(), Corrupt, kWhere, ": ", key, ": expected true or false");
  } else if constexpr (std::is_integral_v<T>) {
    // An integer T can hold: 4.5 or 1e30 is not silently truncated (or overflowed).
    const bool fits =
        it->is_number_unsigned()
            ? it->template get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max())
            : it->is_number_integer() &&
                  it->template get<int64_t>() >= int64_t(std::numeric_limits<T>::min()) &&
                  it->template get<int64_t>() <= int64_t(std::numeric_limits<T>::max());
    PKV_CHECK(fits, Corrupt, kWhere, ": ", key, ": expected an integer in range, got ",
              it->is_number() ? it->dump() : std::string(it->type_name()));
  } else {
    PKV_CHECK(it->is_number() && std::isfinite(it->template get<double>()), Corrupt, kWhere, ": ",
              key, ": expected a finite number, got ",
              it->is_number() ? it->dump() : std::string(it->type_name()));
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
  if (!std::filesystem::exists(path)) return {};
  const std::string text = read_regular_file(path, size_t(16) << 20);  // a few hundred bytes
  check_json_depth(text, kWhere);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(ErrorKind::kCorrupt, str_cat(path.string(), ": not valid JSON: ", e.what()));
  }
  return parse_generation_config(j);
}

}  // namespace pagedkv
