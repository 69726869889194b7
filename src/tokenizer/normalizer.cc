#include "tokenizer/normalizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.h"
#include "tokenizer/json_util.h"
#include "tokenizer/pattern.h"

namespace pagedkv {
namespace {

constexpr const char* kWhere = "tokenizer.json: normalizer";

class UnicodeNormalizer final : public Normalizer {
 public:
  enum class Form { kNfc, kNfd, kNfkc, kNfkd };
  explicit UnicodeNormalizer(Form form) {
    UErrorCode status = U_ZERO_ERROR;
    switch (form) {
      case Form::kNfc:
        impl_ = icu::Normalizer2::getNFCInstance(status);
        break;
      case Form::kNfd:
        impl_ = icu::Normalizer2::getNFDInstance(status);
        break;
      case Form::kNfkc:
        impl_ = icu::Normalizer2::getNFKCInstance(status);
        break;
      case Form::kNfkd:
        impl_ = icu::Normalizer2::getNFKDInstance(status);
        break;
    }
    PKV_CHECK(U_SUCCESS(status), Internal, "ICU normalizer unavailable: ", u_errorName(status));
  }
  void normalize(std::string& text) const override {
    // ASCII is invariant under all four forms; most pieces take this exit.
    bool ascii = true;
    for (unsigned char c : text) ascii &= c < 0x80;
    if (ascii) return;
    UErrorCode status = U_ZERO_ERROR;
    if (impl_->isNormalizedUTF8(text, status) && U_SUCCESS(status)) return;
    status = U_ZERO_ERROR;
    std::string out;
    icu::StringByteSink<std::string> sink(&out, static_cast<int32_t>(text.size()));
    impl_->normalizeUTF8(0, text, sink, nullptr, status);
    PKV_CHECK(U_SUCCESS(status), Internal, "ICU normalization failed: ", u_errorName(status));
    text = std::move(out);
  }

 private:
  const icu::Normalizer2* impl_ = nullptr;
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void normalize(std::string& text) const override { text = pattern_.replace_all(text, content_); }

 private:
  Pattern pattern_;
  std::string content_;
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);  // HF prepends to non-empty strings only
  }

 private:
  std::string prefix_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  void normalize(std::string& text) const override {
    for (const auto& s : steps_) s->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const nlohmann::json& spec) {
  if (spec.is_null()) return nullptr;
  const std::string type = json_util::type_of(spec, kWhere);
  using Form = UnicodeNormalizer::Form;
  if (type == "NFC") return std::make_unique<UnicodeNormalizer>(Form::kNfc);
  if (type == "NFD") return std::make_unique<UnicodeNormalizer>(Form::kNfd);
  if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(Form::kNfkc);
  if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(Form::kNfkd);
  if (type == "Replace") {
    return std::make_unique<ReplaceNormalizer>(
        Pattern::from_json(json_util::field(spec, "pattern", kWhere), kWhere),
        json_util::string_field(spec, "content", kWhere));
  }
  if (type == "Prepend") {
    return std::make_unique<PrependNormalizer>(json_util::string_field(spec, "prepend", kWhere));
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Normalizer>> steps;
    const auto& list = json_util::field(spec, "normalizers", kWhere);
    PKV_CHECK(list.is_array(), Corrupt, kWhere, ".normalizers: expected an array");
    for (const auto& s : list) {
      if (auto n = make_normalizer(s)) steps.push_back(std::move(n));
    }
    return std::make_unique<SequenceNormalizer>(std::move(steps));
  }
  fail(ErrorKind::kUnsupported,
       str_cat("tokenizer.json: unsupported normalizer type '", type, "'"));
}

}  // namespace pagedkv
