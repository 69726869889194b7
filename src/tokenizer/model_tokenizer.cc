#include "tokenizer/model_tokenizer.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/gguf_file.h"
#include "core/json_depth.h"
#include "core/regular_file.h"
#include "tokenizer/gguf_vocab.h"

namespace pagedkv {
namespace {

constexpr const char* kWhere = "tokenizer_config.json";
// tokenizer_config.json and chat_template.jinja: a few KB to a few MB (added tokens listed).
constexpr size_t kMaxConfigFileBytes = size_t(64) << 20;

// "eos_token": "<eos>" or {"content": "<eos>", ...} (AddedToken form) or null.
std::optional<std::string> token_string(const nlohmann::json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  PKV_CHECK(it->is_object() && it->contains("content") && (*it)["content"].is_string(), Corrupt,
            kWhere, ": ", key, ": expected a string or {\"content\": ...}");
  return (*it)["content"].get<std::string>();
}

// "chat_template": a string, or a list of {"name", "template"} (the "default" one is used).
std::optional<std::string> template_source(const nlohmann::json& config) {
  auto it = config.find("chat_template");
  if (it == config.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  PKV_CHECK(it->is_array(), Corrupt, kWhere, ": chat_template: expected a string or a list");
  for (const auto& t : *it) {
    if (t.is_object() && t.value("name", "") == "default" && t.contains("template")) {
      return t["template"].get<std::string>();
    }
  }
  fail(ErrorKind::kUnsupported, str_cat(kWhere, ": chat_template: no template named 'default'"));
}

}  // namespace

ModelTokenizer ModelTokenizer::load_gguf(const std::filesystem::path& path) {
  const GgufFile file = GgufFile::open(path);
  GgufTokenizerParts parts = gguf_tokenizer_parts(file);
  ModelTokenizer m{Tokenizer::from_document(parts.tokenizer_json), parts.special_tokens,
                   std::nullopt, std::move(parts.generation)};
  if (parts.chat_template) m.chat_template.emplace(*parts.chat_template, m.special_tokens);
  return m;
}

ModelTokenizer ModelTokenizer::load(const std::filesystem::path& dir) {
  if (dir.extension() == ".gguf") return load_gguf(dir);
  ModelTokenizer m{Tokenizer::from_file(dir / "tokenizer.json"), {}, std::nullopt, {}};
  std::optional<std::string> source;
  // Optional files: read only when they exist, and only if regular (core/regular_file.h).
  if (std::filesystem::exists(dir / kWhere)) {
    const std::string text = read_regular_file(dir / kWhere, kMaxConfigFileBytes);
    check_json_depth(text, kWhere);
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
      fail(ErrorKind::kCorrupt, str_cat(kWhere, ": not valid JSON: ", e.what()));
    }
    PKV_CHECK(config.is_object(), Corrupt, kWhere, ": expected a JSON object");
    m.special_tokens = {token_string(config, "bos_token"), token_string(config, "eos_token"),
                        token_string(config, "unk_token"), token_string(config, "pad_token")};
    source = template_source(config);
  }
  // transformers 5 saves the template beside the config; that file wins, as it does there.
  if (std::filesystem::exists(dir / "chat_template.jinja"))
    source = read_regular_file(dir / "chat_template.jinja", kMaxConfigFileBytes);
  if (source) m.chat_template.emplace(*source, m.special_tokens);
  m.generation = load_generation_config(dir / "generation_config.json");
  return m;
}

std::vector<int32_t> ModelTokenizer::eos_ids() const {
  if (!generation.eos_token_ids.empty()) return generation.eos_token_ids;
  if (special_tokens.eos_token) {
    if (auto id = tokenizer.token_to_id(*special_tokens.eos_token)) return {*id};
  }
  return {};
}

}  // namespace pagedkv
