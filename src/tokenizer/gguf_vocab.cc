#include "tokenizer/gguf_vocab.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "core/error.h"
#include "tokenizer/byte_level.h"

namespace pagedkv {

namespace {

using nlohmann::json;

constexpr int64_t kControl = 3, kUserDefined = 4;  // llama.cpp token types

// transformers' GGUF_PRE_TOKENIZER_SPLITS: the regex a byte-level vocabulary's merges were
// learned with, by tokenizer.ggml.pre. Others keep ByteLevel's own GPT-2 regex.
const char* split_regex(const std::string& pre) {
  static const char* const kLlama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const char* const kTekken =
      R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const char* const kGpt4o =
      R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const char* const kQwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const char* const kQwen35 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  static const std::unordered_map<std::string, const char*> kSplits = {
      {"llama3", kLlama3},       {"llama-v3", kLlama3},
      {"llama-bpe", kLlama3},    {"falcon3", kLlama3},
      {"falcon-h1", kLlama3},    {"pixtral", kLlama3},
      {"midm-2.0", kLlama3},     {"lfm2", kLlama3},
      {"jina-v5-nano", kLlama3}, {"dbrx", kLlama3},
      {"smaug-bpe", kLlama3},    {"tekken", kTekken},
      {"qwen2", kQwen2},         {"deepseek-r1-qwen", kQwen2},
      {"kormo", kQwen2},         {"f2llmv2", kQwen2},
      {"megrez", kQwen2},        {"qwen35", kQwen35},
      {"gpt-4o", kGpt4o},        {"llama4", kGpt4o},
      {"kanana2", kGpt4o},       {"talkie", kGpt4o},
      {"minimax-m2", kGpt4o},
  };
  const auto it = kSplits.find(pre);
  return it == kSplits.end() ? nullptr : it->second;
}

json added(int64_t id, const std::string& content, bool special) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", special}};
}

// Code points of a UTF-8 string (Python's len).
size_t code_points(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

// transformers' generate_merges(vocab, vocab_scores): every split of a token into two vocabulary
// pieces, per token sorted by the pieces' ids, then all sorted by (score, len(left), len(right))
// descending (stable, as Python's sorted(..., reverse=True)). order: the tokens as the Python
// dict iterates them (first occurrence), score: the dict's value (last occurrence).
json generate_merges(const std::vector<std::string>& order,
                     const std::unordered_map<std::string_view, int64_t>& vocab,
                     const std::unordered_map<std::string_view, double>& scores) {
  struct Merge {
    std::string_view l, r;
    double score;
    size_t ll, lr;
  };
  std::vector<Merge> merges;
  std::vector<Merge> local;
  for (const std::string& tok : order) {
    local.clear();
    const double score = scores.at(tok);
    for (size_t i = 1; i < tok.size(); ++i) {
      if ((static_cast<unsigned char>(tok[i]) & 0xC0) == 0x80) continue;  // inside a character
      const std::string_view l(tok.data(), i), r(tok.data() + i, tok.size() - i);
      if (vocab.count(l) && vocab.count(r))
        local.push_back({l, r, score, code_points(l), code_points(r)});
    }
    std::stable_sort(local.begin(), local.end(), [&](const Merge& a, const Merge& b) {
      return std::pair(vocab.at(a.l), vocab.at(a.r)) < std::pair(vocab.at(b.l), vocab.at(b.r));
    });
    merges.insert(merges.end(), local.begin(), local.end());
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    return std::tuple(a.score, a.ll, a.lr) > std::tuple(b.score, b.ll, b.lr);
  });
  json out = json::array();
  for (const Merge& m : merges) out.push_back(json::array({m.l, m.r}));
  return out;
}

struct Vocab {
  std::vector<std::string> tokens;                    // as the model spells them
  std::vector<std::string> order;                     // distinct tokens, first-occurrence order
  std::unordered_map<std::string_view, int64_t> ids;  // last occurrence wins (a Python dict)
  void build() {
    for (size_t i = 0; i < tokens.size(); ++i) {
      auto [it, fresh] = ids.insert_or_assign(tokens[i], int64_t(i));
      (void)it;
      if (fresh) order.push_back(tokens[i]);
    }
  }
  json to_json() const {
    json v = json::object();
    for (const std::string& t : order) v[t] = ids.at(t);
    return v;
  }
};

json post_processor(const std::optional<std::string>& bos, int64_t bos_id, bool add_bos,
                    const std::optional<std::string>& eos, int64_t eos_id, bool add_eos) {
  json single = json::array(), pair = json::array(), specials = json::object();
  auto special = [&](const std::string& t, int64_t id, int type_id, json& seq) {
    seq.push_back({{"SpecialToken", {{"id", t}, {"type_id", type_id}}}});
    specials[t] = {{"id", t}, {"ids", {id}}, {"tokens", {t}}};
  };
  const bool b = add_bos && bos.has_value(), e = add_eos && eos.has_value();
  if (b) special(*bos, bos_id, 0, single);
  single.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  if (e) special(*eos, eos_id, 0, single);
  if (b) special(*bos, bos_id, 0, pair);
  pair.push_back({{"Sequence", {{"id", "A"}, {"type_id", 0}}}});
  if (e) special(*eos, eos_id, 0, pair);
  if (b) special(*bos, bos_id, 1, pair);
  pair.push_back({{"Sequence", {{"id", "B"}, {"type_id", 1}}}});
  if (e) special(*eos, eos_id, 1, pair);
  return {{"type", "TemplateProcessing"},
          {"single", single},
          {"pair", pair},
          {"special_tokens", specials}};
}

json byte_level_json(bool add_prefix_space, bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", add_prefix_space},
          {"trim_offsets", true},
          {"use_regex", use_regex}};
}

}  // namespace

GgufTokenizerParts gguf_tokenizer_parts(const GgufFile& f) {
  const std::string file = f.path().string();
  PKV_CHECK(f.find("tokenizer.ggml.model") && f.find("tokenizer.ggml.tokens"), NotFound, file,
            ": the GGUF file has no tokenizer (tokenizer.ggml.model / tokens)");
  const std::string model = f.at("tokenizer.ggml.model").as_string("tokenizer.ggml.model");
  const std::string arch =
      f.find("general.architecture") ? f.at("general.architecture").as_string("arch") : "";
  const std::vector<std::string>& raw = f.at("tokenizer.ggml.tokens").as_string_array("tokens");
  std::vector<int64_t> types;
  if (const GgufValue* t = f.find("tokenizer.ggml.token_type")) {
    types = t->as_int_array("tokenizer.ggml.token_type");
    PKV_CHECK(types.size() == raw.size(), Corrupt, file, ": tokenizer.ggml.token_type has ",
              types.size(), " entries for ", raw.size(), " tokens");
  }
  auto id_of = [&](const char* key) -> std::optional<int64_t> {
    const GgufValue* v = f.find(str_cat("tokenizer.ggml.", key));
    if (!v) return std::nullopt;
    const int64_t id = v->as_int(key);
    PKV_CHECK(id >= 0 && id < int64_t(raw.size()), Corrupt, file, ": tokenizer.ggml.", key, " ", id,
              " is outside the vocabulary of ", raw.size());
    return id;
  };
  auto flag = [&](const char* key, bool fallback) {
    const GgufValue* v = f.find(str_cat("tokenizer.ggml.", key));
    return v ? v->as_bool(key) : fallback;
  };
  const auto bos_id = id_of("bos_token_id"), eos_id = id_of("eos_token_id"),
             unk_id = id_of("unknown_token_id"), pad_id = id_of("padding_token_id");
  auto token_at = [&](std::optional<int64_t> id) -> std::optional<std::string> {
    return id ? std::optional<std::string>(raw[size_t(*id)]) : std::nullopt;
  };

  GgufTokenizerParts out;
  out.special_tokens = {token_at(bos_id), token_at(eos_id), token_at(unk_id), token_at(pad_id)};
  if (const GgufValue* t = f.find("tokenizer.chat_template"))
    out.chat_template = t->as_string("tokenizer.chat_template");
  if (eos_id) out.generation.eos_token_ids = {int32_t(*eos_id)};
  if (bos_id) out.generation.bos_token_id = int32_t(*bos_id);
  if (pad_id) out.generation.pad_token_id = int32_t(*pad_id);
  // Older SentencePiece files have no flag, and llama.cpp adds BOS to them (transformers too).
  const bool add_bos = flag("add_bos_token", model == "llama");
  const bool add_eos = flag("add_eos_token", false);

  json& tok = out.tokenizer_json;
  tok = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}};
  Vocab vocab;
  json added_tokens = json::array();
  std::unordered_set<int64_t> added_ids;
  auto add_token = [&](int64_t id, const std::string& content, bool special) {
    if (added_ids.insert(id).second) added_tokens.push_back(added(id, content, special));
  };

  if (model == "gpt2") {
    vocab.tokens.reserve(raw.size());
    for (const std::string& t : raw)
      vocab.tokens.push_back(byte_level::to_bytes(t) ? t : byte_level::from_bytes(t));
    vocab.build();
    json merges = json::array();
    if (const GgufValue* m = f.find("tokenizer.ggml.merges")) {
      for (const std::string& s : m->as_string_array("tokenizer.ggml.merges")) {
        const size_t sp = s.find(' ');
        PKV_CHECK(sp != std::string::npos && s.find(' ', sp + 1) == std::string::npos, Corrupt,
                  file, ": tokenizer.ggml.merges entry '", s, "' is not two tokens");
        merges.push_back(json::array({s.substr(0, sp), s.substr(sp + 1)}));
      }
    } else {  // ranks from the ids: generate_merges(vocab) without scores, ascending
      std::unordered_map<std::string_view, double> scores;
      for (const auto& [t, id] : vocab.ids) scores[t] = -double(id);
      merges = generate_merges(vocab.order, vocab.ids, scores);
    }
    tok["normalizer"] = nullptr;
    const std::string pre =
        f.find("tokenizer.ggml.pre") ? f.at("tokenizer.ggml.pre").as_string("pre") : "";
    if (const char* regex = split_regex(pre)) {
      tok["pre_tokenizer"] = {{"type", "Sequence"},
                              {"pretokenizers",
                               {{{"type", "Split"},
                                 {"pattern", {{"Regex", regex}}},
                                 {"behavior", "Isolated"},
                                 {"invert", false}},
                                byte_level_json(false, false)}}};
    } else {
      tok["pre_tokenizer"] = byte_level_json(false, true);
    }
    tok["decoder"] = byte_level_json(true, true);
    tok["model"] = {{"type", "BPE"},
                    {"dropout", nullptr},
                    {"unk_token", nullptr},
                    {"continuing_subword_prefix", ""},
                    {"end_of_word_suffix", ""},
                    {"fuse_unk", false},
                    {"byte_fallback", false},
                    {"ignore_merges", false},
                    {"vocab", vocab.to_json()},
                    {"merges", std::move(merges)}};
    for (size_t i = 0; i < types.size(); ++i)
      if (types[i] == kControl && byte_level::to_bytes(raw[i]))  // spelled in the alphabet
        add_token(int64_t(i), raw[i], true);
  } else if (model == "llama") {
    const bool gemma = arch == "gemma" || arch == "gemma2" || arch == "gemma3";
    vocab.tokens = raw;
    std::unordered_map<std::string_view, double> scores;
    if (gemma) {
      // All-space pieces are stored with real spaces; GemmaTokenizer looks them up as '▁'s.
      for (std::string& t : vocab.tokens) {
        const bool has_space = t.find(' ') != std::string::npos;
        const bool blank = t.find_first_not_of(" \t\n\r\v\f") == std::string::npos;
        if (has_space && blank) {
          std::string s;
          for (size_t i = 0; i < code_points(t); ++i) s += "\u2581";
          t = s;
        }
      }
    }
    vocab.build();
    json merges = json::array();
    if (const GgufValue* m = f.find("tokenizer.ggml.merges"); m && !gemma) {
      for (const std::string& s : m->as_string_array("tokenizer.ggml.merges")) {
        const size_t sp = s.find(' ');
        PKV_CHECK(sp != std::string::npos, Corrupt, file, ": tokenizer.ggml.merges entry '", s,
                  "' is not two tokens");
        merges.push_back(json::array({s.substr(0, sp), s.substr(sp + 1)}));
      }
    } else {
      // Gemma: merge order is file order (score -index); others: the pieces' scores.
      std::vector<double> sc;
      if (!gemma) {
        PKV_CHECK(f.find("tokenizer.ggml.scores"), Corrupt, file,
                  ": a SentencePiece vocabulary without merges needs tokenizer.ggml.scores");
        sc = f.at("tokenizer.ggml.scores").as_double_array("tokenizer.ggml.scores");
        PKV_CHECK(sc.size() == raw.size(), Corrupt, file, ": ", sc.size(), " scores for ",
                  raw.size(), " tokens");
        // transformers keeps them as Python floats of the f32 values.
      }
      for (size_t i = 0; i < vocab.tokens.size(); ++i)
        scores[vocab.tokens[i]] = gemma ? -double(i) : sc[i];
      merges = generate_merges(vocab.order, vocab.ids, scores);
    }
    const std::string unk = out.special_tokens.unk_token.value_or("<unk>");
    tok["model"] = {{"type", "BPE"},
                    {"dropout", nullptr},
                    {"unk_token", gemma ? json(unk) : json(nullptr)},
                    {"continuing_subword_prefix", nullptr},
                    {"end_of_word_suffix", nullptr},
                    {"fuse_unk", true},
                    {"byte_fallback", true},
                    {"ignore_merges", false},
                    {"vocab", vocab.to_json()},
                    {"merges", std::move(merges)}};
    const json replace_space = {
        {"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}};
    if (gemma) {
      tok["normalizer"] = {
          {"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}};
      tok["pre_tokenizer"] = {{"type", "Split"},
                              {"pattern", {{"String", " "}}},
                              {"behavior", "MergedWithPrevious"},
                              {"invert", false}};
      tok["decoder"] = {
          {"type", "Sequence"},
          {"decoders", {replace_space, {{"type", "ByteFallback"}}, {{"type", "Fuse"}}}}};
    } else {
      tok["normalizer"] = nullptr;
      tok["pre_tokenizer"] = {{"type", "Metaspace"},
                              {"replacement", "\u2581"},
                              {"prepend_scheme", "first"},
                              {"split", false}};
      tok["decoder"] = {{"type", "Sequence"},
                        {"decoders",
                         {replace_space,
                          {{"type", "ByteFallback"}},
                          {{"type", "Fuse"}},
                          {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}}}};
    }
    for (size_t i = 0; i < types.size(); ++i)
      if (types[i] == kControl) add_token(int64_t(i), raw[i], true);
  } else {
    fail(ErrorKind::kUnsupported, str_cat(file, ": GGUF tokenizer model '", model,
                                          "' is not supported (gpt2 and llama only)"));
  }
  // The named special tokens are special added tokens too (the tokenizer class registers them).
  for (const auto& id : {bos_id, eos_id, unk_id, pad_id})
    if (id) add_token(*id, vocab.tokens[size_t(*id)], true);
  // User-defined pieces: plain added tokens, when the vocabulary spells them as the file does.
  for (size_t i = 0; i < types.size(); ++i)
    if (types[i] == kUserDefined && vocab.ids.count(raw[i])) add_token(int64_t(i), raw[i], false);
  tok["added_tokens"] = std::move(added_tokens);
  tok["post_processor"] = post_processor(out.special_tokens.bos_token, bos_id.value_or(0), add_bos,
                                         out.special_tokens.eos_token, eos_id.value_or(0), add_eos);
  return out;
}

}  // namespace pagedkv
