#include "tokenizer/decoder.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_util.h"
#include "tokenizer/pattern.h"
#include "tokenizer/utf8.h"

namespace pagedkv {
namespace {

constexpr const char* kWhere = "tokenizer.json: decoder";
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

class ByteLevelDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string bytes;
    for (const std::string& t : tokens) {
      // A token outside the byte alphabet (an added token such as "<|eot_id|>" is inside it;
      // one with e.g. CJK text is not) contributes its own UTF-8 bytes.
      if (auto b = byte_level::to_bytes(t)) {
        bytes += *b;
      } else {
        bytes += t;
      }
    }
    tokens.assign(1, utf8::lossy(bytes));
  }
  bool byte_level() const override { return true; }
};

class ReplaceDecoder final : public Decoder {
 public:
  ReplaceDecoder(Pattern pattern, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (std::string& t : tokens) t = pattern_.replace_all(t, content_);
  }

 private:
  Pattern pattern_;
  std::string content_;
};

}  // namespace

int fallback_byte(const std::string& t) {
  if (t.size() != 6 || !t.starts_with("<0x") || t[5] != '>') return -1;
  int v = 0;
  for (int k = 3; k < 5; ++k) {
    const char c = t[k];
    const int d = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                         : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

namespace {

class ByteFallbackDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string run;
    auto flush = [&] {
      if (run.empty()) return;
      if (utf8::first_invalid(run) == std::string::npos) {
        out.push_back(run);
      } else {
        for (size_t i = 0; i < run.size(); ++i) out.emplace_back(kReplacementChar);
      }
      run.clear();
    };
    for (std::string& t : tokens) {
      const int b = fallback_byte(t);
      if (b >= 0) {
        run += static_cast<char>(b);
      } else {
        flush();
        out.push_back(std::move(t));
      }
    }
    flush();
    tokens = std::move(out);
  }
  bool joins_byte_runs() const override { return true; }
};

class FuseDecoder final : public Decoder {
 public:
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string all;
    for (const std::string& t : tokens) all += t;
    tokens.assign(1, std::move(all));
  }
};

class StripDecoder final : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    std::string c;
    utf8::append(c, content_);
    for (std::string& t : tokens) {
      size_t b = 0, e = t.size();
      for (size_t k = 0; k < start_ && t.compare(b, c.size(), c) == 0 && b < e; ++k) b += c.size();
      for (size_t k = 0;
           k < stop_ && e >= b + c.size() && t.compare(e - c.size(), c.size(), c) == 0; ++k)
        e -= c.size();
      t = t.substr(b, e - b);
    }
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

class MetaspaceDecoder final : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool strip_first)
      : replacement_(std::move(replacement)), strip_first_(strip_first) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    // HF: every replacement character becomes a space, except in the first token, where (unless
    // prepend_scheme is "never") they are all dropped.
    for (size_t i = 0; i < tokens.size(); ++i) {
      tokens[i] = Pattern::literal(replacement_)
                      .replace_all(tokens[i], (i == 0 && strip_first_) ? "" : " ");
    }
  }

 private:
  std::string replacement_;
  bool strip_first_;
};

class SequenceDecoder final : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
      : steps_(std::move(steps)) {}
  void decode_chain(std::vector<std::string>& tokens) const override {
    for (const auto& s : steps_) s->decode_chain(tokens);
  }
  bool joins_byte_runs() const override {
    for (const auto& s : steps_)
      if (s->joins_byte_runs()) return true;
    return false;
  }
  bool byte_level() const override {
    for (const auto& s : steps_)
      if (s->byte_level()) return true;
    return false;
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

}  // namespace

std::unique_ptr<Decoder> make_decoder(const nlohmann::json& spec) {
  if (spec.is_null()) return nullptr;
  const std::string type = json_util::type_of(spec, kWhere);
  if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
  if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
  if (type == "Fuse") return std::make_unique<FuseDecoder>();
  if (type == "Replace") {
    return std::make_unique<ReplaceDecoder>(
        Pattern::from_json(json_util::field(spec, "pattern", kWhere), kWhere),
        json_util::string_field(spec, "content", kWhere));
  }
  if (type == "Strip") {
    const std::string content = json_util::string_field(spec, "content", kWhere);
    size_t i = 0;
    PKV_CHECK(!content.empty(), Corrupt, kWhere, ".content: empty");
    const char32_t c = utf8::next(content, i);
    PKV_CHECK(i == content.size(), Corrupt, kWhere, ".content: expected one character");
    return std::make_unique<StripDecoder>(c, json_util::get_or<size_t>(spec, "start", 0, kWhere),
                                          json_util::get_or<size_t>(spec, "stop", 0, kWhere));
  }
  if (type == "Metaspace") {
    std::string scheme = json_util::get_or<std::string>(spec, "prepend_scheme", "", kWhere);
    if (scheme.empty())
      scheme = json_util::get_or(spec, "add_prefix_space", true, kWhere) ? "always" : "never";
    return std::make_unique<MetaspaceDecoder>(
        json_util::get_or<std::string>(spec, "replacement", "\xE2\x96\x81", kWhere),
        scheme != "never");
  }
  if (type == "Sequence") {
    std::vector<std::unique_ptr<Decoder>> steps;
    const auto& list = json_util::field(spec, "decoders", kWhere);
    PKV_CHECK(list.is_array(), Corrupt, kWhere, ".decoders: expected an array");
    for (const auto& s : list) {
      if (auto d = make_decoder(s)) steps.push_back(std::move(d));
    }
    return std::make_unique<SequenceDecoder>(std::move(steps));
  }
  fail(ErrorKind::kUnsupported, str_cat("tokenizer.json: unsupported decoder type '", type, "'"));
}

std::string run_decoder(const Decoder* decoder, std::vector<std::string>&& tokens) {
  std::string out;
  if (decoder == nullptr) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out += ' ';
      out += tokens[i];
    }
    return out;
  }
  decoder->decode_chain(tokens);
  for (const std::string& t : tokens) out += t;
  return out;
}

}  // namespace pagedkv
