#pragma once
// generation_config.json: the checkpoint's stop ids and default sampling parameters.

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <vector>

namespace pagedkv {

struct GenerationConfig {
  std::vector<int32_t> eos_token_ids;  // "eos_token_id": an int or a list of ints
  std::optional<int32_t> bos_token_id, pad_token_id;
  std::optional<bool> do_sample;
  std::optional<double> temperature, top_p;
  std::optional<int32_t> top_k;
};

// Errors name the field ("generation_config.json: eos_token_id: expected ...").
GenerationConfig parse_generation_config(const nlohmann::json& j);
// A missing file gives the empty config (not an error: many checkpoints have none).
GenerationConfig load_generation_config(const std::filesystem::path& path);

}  // namespace pagedkv
