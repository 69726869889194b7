#include "tokenizer/pre_tokenizer.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "core/error.h"
#include "tokenizer/json_util.h"
#include "tokenizer/pattern.h"

namespace pagedkv {
namespace {

constexpr const char* kWhere = "tokenizer.json: pre_tokenizer";
// GPT-2's pattern, used by ByteLevel with use_regex.
constexpr const char* kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

SplitBehavior parse_behavior(const std::string& s) {
  if (s == "Removed") return SplitBehavior::kRemoved;
  if (s == "Isolated") return SplitBehavior::kIsolated;
  if (s == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (s == "Contiguous") return SplitBehavior::kContiguous;
  fail(ErrorKind::kUnsupported, str_cat(kWhere, ": unsupported split behavior '", s, "'"));
}

// Splits every word at the pattern's matches and regroups the parts as HF's
// NormalizedString::split does for `behavior`. Empty parts are dropped.
void split_words(PreTokenized& pt, const Pattern& pattern, SplitBehavior behavior, bool invert) {
  std::vector<Word> result;
  result.reserve(pt.words.size() * 2);
  std::vector<std::pair<size_t, size_t>> matches;
  struct Part {
    size_t begin, end;
    bool is_match;
  };
  std::vector<Part> parts, grouped;
  for (const Word& w : pt.words) {
    matches.clear();
    pattern.find_all(w.text, matches);
    parts.clear();
    size_t prev = 0;
    for (const auto& [b, e] : matches) {
      if (prev != b) parts.push_back({prev, b, invert});
      parts.push_back({b, e, !invert});
      prev = e;
    }
    if (prev != w.text.size()) parts.push_back({prev, w.text.size(), invert});

    grouped.clear();
    bool previous_match = false;
    switch (behavior) {
      case SplitBehavior::kRemoved:
        for (const Part& p : parts)
          if (!p.is_match) grouped.push_back(p);
        break;
      case SplitBehavior::kIsolated:
        grouped = parts;
        break;
      case SplitBehavior::kMergedWithPrevious:
        for (const Part& p : parts) {
          if (p.is_match && !previous_match && !grouped.empty()) {
            grouped.back().end = p.end;
          } else {
            grouped.push_back(p);
          }
          previous_match = p.is_match;
        }
        break;
      case SplitBehavior::kMergedWithNext:
        for (size_t k = parts.size(); k-- > 0;) {
          const Part& p = parts[k];
          if (p.is_match && !previous_match && !grouped.empty()) {
            grouped.back().begin = p.begin;
          } else {
            grouped.push_back(p);
          }
          previous_match = p.is_match;
        }
        std::reverse(grouped.begin(), grouped.end());
        break;
      case SplitBehavior::kContiguous:
        for (const Part& p : parts) {
          if (p.is_match == previous_match && !grouped.empty()) {
            grouped.back().end = p.end;
          } else {
            grouped.push_back(p);
          }
          previous_match = p.is_match;
        }
        break;
    }
    for (const Part& p : grouped) {
      if (p.end > p.begin) {
        result.push_back({w.text.substr(p.begin, p.end - p.begin), w.at_origin && p.begin == 0});
      }
    }
  }
  pt.words = std::move(result);
}

class SplitPreTokenizer final : public PreTokenizer {
 public:
  SplitPreTokenizer(Pattern pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}
  void apply(PreTokenized& pt) const override { split_words(pt, pattern_, behavior_, invert_); }

 private:
  Pattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

class ByteLevelPreTokenizer final : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
      : add_prefix_space_(add_prefix_space) {
    if (use_regex) regex_.emplace(Pattern::from_json({{"Regex", kGpt2Pattern}}, kWhere));
  }
  void apply(PreTokenized& pt) const override {
    if (add_prefix_space_) {
      for (Word& w : pt.words) {
        if (w.text.starts_with(' ')) continue;
        std::string& spaced = pt.owned.emplace_back(w.text.size() + 1, ' ');
        w.text.copy(spaced.data() + 1, w.text.size());
        w.text = spaced;
      }
    }
    if (regex_) split_words(pt, *regex_, SplitBehavior::kIsolated, false);
  }
  bool byte_level() const override { return true; }

 private:
  bool add_prefix_space_;
  std::optional<Pattern> regex_;
};

class MetaspacePreTokenizer final : public PreTokenizer {
 public:
  enum class Prepend { kAlways, kFirst, kNever };
  MetaspacePreTokenizer(std::string replacement, Prepend prepend, bool split)
      : replacement_(std::move(replacement)), prepend_(prepend), split_(split) {}
  void apply(PreTokenized& pt) const override {
    const Pattern space = Pattern::literal(" ");
    for (Word& w : pt.words) {
      std::string text = space.replace_all(w.text, replacement_);
      const bool prepend =
          prepend_ == Prepend::kAlways || (prepend_ == Prepend::kFirst && w.at_origin);
      if (prepend && !text.starts_with(replacement_)) text.insert(0, replacement_);
      w.text = pt.owned.emplace_back(std::move(text));
    }
    if (split_)
      split_words(pt, Pattern::literal(replacement_), SplitBehavior::kMergedWithNext, false);
  }

 private:
  std::string replacement_;
  Prepend prepend_;
  bool split_;
};

class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {
    for (size_t i = 0; i + 1 < steps_.size(); ++i) {
      PKV_CHECK(!steps_[i]->byte_level(), Unsupported, kWhere,
                ": ByteLevel is only supported as the last pre-tokenizer of a Sequence");
    }
  }
  void apply(PreTokenized& pt) const override {
    for (const auto& s : steps_) s->apply(pt);
  }
  bool byte_level() const override { return !steps_.empty() && steps_.back()->byte_level(); }

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

MetaspacePreTokenizer::Prepend parse_prepend(const nlohmann::json& spec) {
  using P = MetaspacePreTokenizer::Prepend;
  // Older files spell it add_prefix_space: true/false.
  if (!spec.contains("prepend_scheme")) {
    return json_util::get_or(spec, "add_prefix_space", true, kWhere) ? P::kAlways : P::kNever;
  }
  const std::string s = json_util::string_field(spec, "prepend_scheme", kWhere);
  if (s == "always") return P::kAlways;
  if (s == "first") return P::kFirst;
  if (s == "never") return P::kNever;
  fail(ErrorKind::kCorrupt, str_cat(kWhere, ".prepend_scheme: unknown value '", s, "'"));
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const nlohmann::json& spec) {
  if (spec.is_null()) return nullptr;
  const std::string type = json_util::type_of(spec, kWhere);
  if (type == "Split") {
    return std::make_unique<SplitPreTokenizer>(
        Pattern::from_json(json_util::field(spec, "pattern", kWhere), kWhere),
        parse_behavior(json_util::string_field(spec, "behavior", kWhere)),
        json_util::get_or(spec, "invert", false, kWhere));
  }
  if (type == "ByteLevel") {
    return std::make_unique<ByteLevelPreTokenizer>(
        json_util::get_or(spec, "add_prefix_space", true, kWhere),
        json_util::get_or(spec, "use_regex", true, kWhere));
  }
  if (type == "Metaspace") {
    return std::make_unique<MetaspacePreTokenizer>(
        json_util::get_or<std::string>(spec, "replacement", "\xE2\x96\x81", kWhere),
        parse_prepend(spec), json_util::get_or(spec, "split", true, kWhere));
  }
  if (type == "Digits") {
    const bool individual = json_util::get_or(spec, "individual_digits", false, kWhere);
    return std::make_unique<SplitPreTokenizer>(
        Pattern::from_json({{"Regex", individual ? "\\p{N}" : "\\p{N}+"}}, kWhere),
        SplitBehavior::kIsolated, false);
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    const auto& list = json_util::field(spec, "pretokenizers", kWhere);
    PKV_CHECK(list.is_array(), Corrupt, kWhere, ".pretokenizers: expected an array");
    for (const auto& s : list) {
      if (auto p = make_pre_tokenizer(s)) steps.push_back(std::move(p));
    }
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  fail(ErrorKind::kUnsupported,
       str_cat("tokenizer.json: unsupported pre_tokenizer type '", type, "'"));
}

}  // namespace pagedkv
