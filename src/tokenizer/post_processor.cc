#include "tokenizer/post_processor.h"

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "tokenizer/json_util.h"

namespace pagedkv {
namespace {

constexpr const char* kWhere = "tokenizer.json: post_processor";

class TemplateProcessor final : public PostProcessor {
 public:
  explicit TemplateProcessor(const nlohmann::json& spec) {
    const auto& single = json_util::field(spec, "single", kWhere);
    const auto& specials = json_util::field(spec, "special_tokens", kWhere);
    PKV_CHECK(single.is_array(), Corrupt, kWhere, ".single: expected an array");
    bool seen_sequence = false;
    for (size_t i = 0; i < single.size(); ++i) {
      const auto& piece = single[i];
      const std::string where = str_cat(kWhere, ".single[", i, "]");
      if (piece.contains("Sequence")) {
        PKV_CHECK(!seen_sequence, Corrupt, where, ": $A appears twice");
        seen_sequence = true;
        continue;
      }
      const auto& sp = json_util::field(piece, "SpecialToken", where);
      const std::string name = json_util::string_field(sp, "id", where + ".SpecialToken");
      const auto& def =
          json_util::field(specials, name.c_str(), str_cat(kWhere, ".special_tokens"));
      const auto& ids = json_util::field(def, "ids", str_cat(kWhere, ".special_tokens.", name));
      PKV_CHECK(ids.is_array(), Corrupt, kWhere, ".special_tokens.", name,
                ".ids: expected an array");
      auto& dst = seen_sequence ? suffix_ : prefix_;
      for (const auto& id : ids) {
        PKV_CHECK(id.is_number_integer(), Corrupt, kWhere, ".special_tokens.", name,
                  ".ids: expected integers");
        dst.push_back(id.get<int32_t>());
      }
    }
    PKV_CHECK(seen_sequence, Corrupt, kWhere, ".single: no $A sequence");
  }
  void process(std::vector<int32_t>& ids) const override {
    ids.insert(ids.begin(), prefix_.begin(), prefix_.end());
    ids.insert(ids.end(), suffix_.begin(), suffix_.end());
  }
  std::vector<int32_t> prefix_ids() const override { return prefix_; }

 private:
  std::vector<int32_t> prefix_, suffix_;
};

class NoOpProcessor final : public PostProcessor {
 public:
  void process(std::vector<int32_t>&) const override {}
};

class SequenceProcessor final : public PostProcessor {
 public:
  explicit SequenceProcessor(std::vector<std::unique_ptr<PostProcessor>> steps)
      : steps_(std::move(steps)) {}
  void process(std::vector<int32_t>& ids) const override {
    for (const auto& s : steps_) s->process(ids);
  }
  std::vector<int32_t> prefix_ids() const override {
    std::vector<int32_t> out;
    for (const auto& s : steps_) {
      auto p = s->prefix_ids();
      out.insert(out.begin(), p.begin(), p.end());
    }
    return out;
  }

 private:
  std::vector<std::unique_ptr<PostProcessor>> steps_;
};

}  // namespace

std::unique_ptr<PostProcessor> make_post_processor(const nlohmann::json& spec) {
  if (spec.is_null()) return nullptr;
  const std::string type = json_util::type_of(spec, kWhere);
  if (type == "TemplateProcessing") return std::make_unique<TemplateProcessor>(spec);
  if (type == "ByteLevel") return std::make_unique<NoOpProcessor>();
  if (type == "Sequence") {
    std::vector<std::unique_ptr<PostProcessor>> steps;
    const auto& list = json_util::field(spec, "processors", kWhere);
    PKV_CHECK(list.is_array(), Corrupt, kWhere, ".processors: expected an array");
    for (const auto& s : list) {
      if (auto p = make_post_processor(s)) steps.push_back(std::move(p));
    }
    return std::make_unique<SequenceProcessor>(std::move(steps));
  }
  fail(ErrorKind::kUnsupported,
       str_cat("tokenizer.json: unsupported post_processor type '", type, "'"));
}

}  // namespace pagedkv
