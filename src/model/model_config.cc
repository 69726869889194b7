#include "model/model_config.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/json_depth.h"
#include "core/regular_file.h"
#include "model/families/family.h"

namespace pagedkv {

ModelConfig parse_model_config(const nlohmann::json& j) {
  PKV_CHECK(j.is_object(), Corrupt, "config.json: top level must be an object");
  const HfConfig hf(j);
  const auto architectures = hf.get<std::vector<std::string>>("architectures", {});
  const std::string architecture = architectures.empty() ? "" : architectures[0];
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
    c = family->parse(HfConfig(text, "text_config."));
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

ModelConfig parse_model_config_text(std::string_view text, const std::string& where) {
  // Bounded nesting first: the parsed value is copied (text_config) and may be echoed in errors.
  check_json_depth(text, where);
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  PKV_CHECK(!j.is_discarded(), Corrupt, where, ": invalid JSON");
  try {
    return parse_model_config(j);
  } catch (const Error& e) {
    // "<kind>: config.json: message" becomes "<where>: message".
    std::string msg = e.what();
    msg = msg.substr(msg.find(": ") + 2);
    if (msg.rfind("config.json: ", 0) == 0) msg = msg.substr(13);
    throw Error(e.kind(), str_cat(where, ": ", msg));
  }
}

ModelConfig load_model_config(const std::string& dir, const std::string& config_name) {
  const std::string path = dir + "/" + config_name;
  // A regular file of at most kMaxConfigBytes (real ones are a few KB): a FIFO would block, a
  // device never end.
  std::string text;
  try {
    text = read_regular_file(path, kMaxConfigBytes);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) fail(ErrorKind::kNotFound, str_cat("cannot open ", path));
    throw;
  }
  return parse_model_config_text(text, path);
}

}  // namespace pagedkv
