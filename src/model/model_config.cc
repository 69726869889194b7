#include "model/model_config.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "model/families/family.h"

namespace pagedkv {

ModelConfig parse_model_config(const nlohmann::json& j) {
  PKV_CHECK(j.is_object(), Corrupt, "config.json: top level must be an object");
  const HfConfig hf(j);
  std::string architecture;
  if (hf.has("architectures") && j.at("architectures").is_array() && !j.at("architectures").empty())
    architecture = j.at("architectures").at(0).get<std::string>();
  const std::string model_type = hf.get<std::string>("model_type", "");
  const auto [family, container] = find_model_family(architecture, model_type);
  ModelConfig c;
  if (container) {
    // The text model: its text_config (absent: all defaults), with the top-level keys HF's
    // container takes from its own config.
    nlohmann::json text = hf.has("text_config") ? j.at("text_config") : nlohmann::json::object();
    PKV_CHECK(text.is_object(), Corrupt, "config.json: text_config must be an object");
    for (std::string_view key : family->container_top_level_keys) {
      const std::string k(key);
      if (hf.has(k.c_str())) text[k] = j.at(k);
    }
    c = family->parse(HfConfig(text));
  } else {
    c = family->parse(hf);
  }
  c.family = family->name;
  c.architecture = architecture.empty() ? model_type : architecture;
  c.container = container;
  for (const LayerConfig& l : c.layers)
    PKV_CHECK(l.attention.kind == AttentionKind::kFull ||
                  (l.attention.window > 0 || l.attention.chunk > 0),
              Corrupt, "config.json: sliding window / chunk size must be > 0");
  return c;
}

ModelConfig load_model_config(const std::string& dir, const std::string& config_name) {
  const std::string path = dir + "/" + config_name;
  std::ifstream in(path);
  PKV_CHECK(in.good(), NotFound, "cannot open ", path);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kCorrupt, str_cat(path, ": invalid JSON: ", e.what()));
  }
  try {
    return parse_model_config(j);
  } catch (const Error& e) {
    const std::string msg = e.what();  // "<Kind>: message"
    throw Error(e.kind(), str_cat(path, ": ", msg.substr(msg.find(": ") + 2)));
  }
}

}  // namespace pagedkv
