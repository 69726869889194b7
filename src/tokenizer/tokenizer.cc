#include "tokenizer/tokenizer.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/json_depth.h"
#include "core/regular_file.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/decode_stream.h"
#include "tokenizer/json_util.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"

namespace pagedkv {
namespace {

// The largest tokenizer.json read (real ones: 2 to 35 MB); a bigger or non-regular file (a FIFO
// would block forever) is refused before it is read.
constexpr size_t kMaxTokenizerJsonBytes = size_t(512) << 20;

// Words of one piece of model text (not an added token): normalize, pre-tokenize, BPE.
void encode_text(const TokenizerImpl& t, std::string_view piece, bool at_origin, bool parse_special,
                 std::vector<int32_t>& ids) {
  thread_local PreTokenized pt;  // reused per thread: no allocation per call once grown
  pt.clear();
  std::string_view text = piece;
  if (t.normalizer) {
    std::string normalized(piece);
    t.normalizer->normalize(normalized);
    text = pt.owned.emplace_back(std::move(normalized));
  }
  if (t.added.has_normalized_tokens()) {
    // Added tokens with normalized=true are matched in the normalized text.
    std::vector<Segment> inner;
    t.added.split(text, /*normalized=*/true, parse_special, inner);
    for (const Segment& s : inner) {
      if (s.id >= 0) {
        for (const Word& w : pt.words) t.model->tokenize(w.text, ids);
        pt.words.clear();
        ids.push_back(s.id);
      } else {
        pt.words.clear();
        pt.words.push_back({text.substr(s.begin, s.end - s.begin), at_origin && s.begin == 0});
        if (t.pre_tokenizer) t.pre_tokenizer->apply(pt);
        for (const Word& w : pt.words) t.model->tokenize(w.text, ids);
        pt.words.clear();
      }
    }
    return;
  }
  pt.words.push_back({text, at_origin});
  if (t.pre_tokenizer) t.pre_tokenizer->apply(pt);
  for (const Word& w : pt.words) t.model->tokenize(w.text, ids);
}

}  // namespace

std::string TokenizerImpl::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (const AddedToken* a = added.find(id)) {
      if (!(skip_special_tokens && a->special)) tokens.push_back(a->content);
    } else if (id >= 0 && static_cast<size_t>(id) < model->vocab_size() &&
               !model->token(id).empty()) {
      tokens.push_back(model->token(id));
    }
  }
  return run_decoder(decoder.get(), std::move(tokens));
}

Tokenizer Tokenizer::from_file(const std::filesystem::path& tokenizer_json) {
  std::string text;
  try {
    text = read_regular_file(tokenizer_json, kMaxTokenizerJsonBytes);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound)
      fail(ErrorKind::kNotFound, str_cat("cannot open ", tokenizer_json.string()));
    throw;
  }
  return from_json(text);
}

Tokenizer Tokenizer::from_json(std::string_view text) {
  check_json_depth(text, "tokenizer.json");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(ErrorKind::kCorrupt, str_cat("tokenizer.json: not valid JSON: ", e.what()));
  }
  return from_document(j);
}

Tokenizer Tokenizer::from_document(const nlohmann::json& j) {
  PKV_CHECK(j.is_object(), Corrupt, "tokenizer.json: expected a JSON object at the top level");
  auto get = [&](const char* key) -> const nlohmann::json& {
    static const nlohmann::json null;
    auto it = j.find(key);
    return it == j.end() ? null : *it;
  };
  for (const char* key : {"truncation", "padding"}) {
    PKV_CHECK(get(key).is_null(), Unsupported, "tokenizer.json: ", key,
              " is set; pagedkv does not truncate or pad (unset it)");
  }
  auto impl = std::make_shared<TokenizerImpl>();
  impl->added = AddedVocabulary(get("added_tokens"));
  impl->normalizer = make_normalizer(get("normalizer"));
  impl->pre_tokenizer = make_pre_tokenizer(get("pre_tokenizer"));
  PKV_CHECK(!get("model").is_null(), Corrupt, "tokenizer.json: missing field 'model'");
  impl->model = std::make_unique<BpeModel>(
      get("model"), impl->pre_tokenizer && impl->pre_tokenizer->byte_level());
  impl->post_processor = make_post_processor(get("post_processor"));
  impl->decoder = make_decoder(get("decoder"));
  return Tokenizer(std::move(impl));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, const EncodeOptions& options) const {
  const size_t bad = utf8::first_invalid(text);
  PKV_CHECK(bad == std::string_view::npos, InvalidArgument,
            "encode: text is not valid UTF-8 (first bad byte 0x", std::hex,
            static_cast<int>(static_cast<unsigned char>(text[bad])), std::dec, " at offset ", bad,
            ")");
  const TokenizerImpl& t = *impl_;
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<Segment> segments;
  t.added.split(text, /*normalized=*/false, options.parse_special, segments);
  for (const Segment& s : segments) {
    if (s.id >= 0) {
      ids.push_back(s.id);
    } else {
      encode_text(t, text.substr(s.begin, s.end - s.begin), s.begin == 0, options.parse_special,
                  ids);
    }
  }
  if (options.add_special_tokens && t.post_processor) t.post_processor->process(ids);
  return ids;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  return impl_->decode(ids, skip_special_tokens);
}

DecodeStream Tokenizer::decode_stream(bool skip_special_tokens) const {
  return DecodeStream(*this, skip_special_tokens);
}

std::string Tokenizer::token_to_piece(int32_t id) const {
  const auto token = id_to_token(id);
  if (!token) return "";
  const Decoder* d = impl_->decoder.get();
  if (d && d->joins_byte_runs()) {
    if (const int b = fallback_byte(*token); b >= 0) return std::string(1, static_cast<char>(b));
  }
  if (d && d->byte_level()) return byte_level::to_bytes(*token).value_or(*token);
  return run_decoder(d, {*token});
}

std::optional<std::string> Tokenizer::id_to_token(int32_t id) const {
  if (const AddedToken* a = impl_->added.find(id)) return a->content;
  if (id >= 0 && static_cast<size_t>(id) < impl_->model->vocab_size() &&
      !impl_->model->token(id).empty()) {
    return impl_->model->token(id);
  }
  return std::nullopt;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  if (auto id = impl_->added.id(token)) return id;
  return impl_->model->id(token);
}

bool Tokenizer::is_special(int32_t id) const {
  const AddedToken* a = impl_->added.find(id);
  return a != nullptr && a->special;
}

std::vector<int32_t> Tokenizer::special_ids() const {
  std::vector<int32_t> out;
  for (const AddedToken& a : impl_->added.tokens())
    if (a.special) out.push_back(a.id);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<int32_t> Tokenizer::bos_ids() const {
  return impl_->post_processor ? impl_->post_processor->prefix_ids() : std::vector<int32_t>{};
}

size_t Tokenizer::vocab_size() const {
  return std::max(impl_->model->vocab_size(), static_cast<size_t>(impl_->added.max_id() + 1));
}

}  // namespace pagedkv
