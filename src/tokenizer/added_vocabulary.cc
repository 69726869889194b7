#include "tokenizer/added_vocabulary.h"

#include <unicode/uchar.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/json_util.h"
#include "tokenizer/utf8.h"

namespace pagedkv {
namespace {

constexpr const char* kWhere = "tokenizer.json: added_tokens";

// The code point that ends s (s non-empty, valid UTF-8).
char32_t last_char(std::string_view s) {
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  return utf8::next(s, i);
}

// Rust's char::is_alphanumeric (Alphabetic or Numeric) and char::is_whitespace (White_Space).
bool is_word_char(char32_t c) {
  const auto type = u_charType(static_cast<UChar32>(c));
  return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_ALPHABETIC) ||
         type == U_DECIMAL_DIGIT_NUMBER || type == U_LETTER_NUMBER || type == U_OTHER_NUMBER;
}
bool is_space(char32_t c) {
  return u_hasBinaryProperty(static_cast<UChar32>(c), UCHAR_WHITE_SPACE);
}

}  // namespace

void AddedVocabulary::Trie::insert(std::string_view s, int32_t token_index) {
  tokens.push_back(token_index);
  int32_t node = 0;
  for (unsigned char c : s) {
    auto [it, inserted] =
        children[static_cast<size_t>(node)].try_emplace(c, static_cast<int32_t>(children.size()));
    if (inserted) {
      children.emplace_back();
      terminal.push_back(-1);
    }
    node = it->second;
  }
  terminal[static_cast<size_t>(node)] = token_index;
  first_byte[static_cast<unsigned char>(s[0])] = true;
}

std::pair<int32_t, size_t> AddedVocabulary::Trie::longest_at(std::string_view text,
                                                             size_t pos) const {
  std::pair<int32_t, size_t> best{-1, 0};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto& kids = children[static_cast<size_t>(node)];
    auto it = kids.find(static_cast<unsigned char>(text[i]));
    if (it == kids.end()) break;
    node = it->second;
    if (terminal[static_cast<size_t>(node)] >= 0)
      best = {terminal[static_cast<size_t>(node)], i + 1 - pos};
  }
  return best;
}

AddedVocabulary::AddedVocabulary(const nlohmann::json& added_tokens) {
  if (added_tokens.is_null()) return;
  PKV_CHECK(added_tokens.is_array(), Corrupt, kWhere, ": expected an array");
  for (size_t i = 0; i < added_tokens.size(); ++i) {
    const auto& t = added_tokens[i];
    const std::string where = str_cat(kWhere, "[", i, "]");
    AddedToken a;
    const auto& id = json_util::field(t, "id", where);
    PKV_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < (1 << 30),
              Corrupt, where, ".id: expected a non-negative integer");
    a.id = id.get<int32_t>();
    a.content = json_util::string_field(t, "content", where);
    PKV_CHECK(!a.content.empty(), Corrupt, where, ".content: empty added token");
    a.special = json_util::get_or(t, "special", false, where);
    a.lstrip = json_util::get_or(t, "lstrip", false, where);
    a.rstrip = json_util::get_or(t, "rstrip", false, where);
    a.single_word = json_util::get_or(t, "single_word", false, where);
    a.normalized = json_util::get_or(t, "normalized", !a.special, where);
    const auto index = static_cast<int32_t>(tokens_.size());
    by_id_[a.id] = tokens_.size();
    by_content_[a.content] = a.id;
    max_id_ = std::max(max_id_, a.id);
    (a.normalized ? normalized_ : raw_).insert(a.content, index);
    tokens_.push_back(std::move(a));
  }
}

const AddedToken* AddedVocabulary::find(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedVocabulary::id(std::string_view content) const {
  auto it = by_content_.find(std::string(content));
  if (it == by_content_.end()) return std::nullopt;
  return it->second;
}

void AddedVocabulary::split(std::string_view text, bool normalized, bool parse_special,
                            std::vector<Segment>& out) const {
  out.clear();
  const Trie& trie = normalized ? normalized_ : raw_;
  size_t start_offset = 0;  // end of the previous emitted segment
  size_t pos = 0;
  if (!trie.tokens.empty()) {
    while (pos < text.size()) {
      if (!trie.first_byte[static_cast<unsigned char>(text[pos])]) {
        ++pos;
        continue;
      }
      const auto [index, len] = trie.longest_at(text, pos);
      if (index < 0) {
        ++pos;
        continue;
      }
      // Leftmost-longest matching consumes the match even when it is then rejected below.
      size_t start = pos, stop = pos + len;
      pos = stop;
      const AddedToken& t = tokens_[static_cast<size_t>(index)];
      if (!parse_special && t.special) continue;
      if (t.single_word) {
        const bool left_ok = start == 0 || !is_word_char(last_char(text.substr(0, start)));
        size_t j = stop;
        const bool right_ok = stop == text.size() || !is_word_char(utf8::next(text, j));
        if (!left_ok || !right_ok) continue;
      }
      if (t.lstrip) {
        size_t s = start;
        while (s > start_offset && is_space(last_char(text.substr(0, s)))) {
          do --s;
          while (s > 0 && (static_cast<unsigned char>(text[s]) & 0xC0) == 0x80);
        }
        start = std::max(s, start_offset);
      }
      if (t.rstrip) {
        size_t e = stop;
        while (e < text.size()) {
          size_t j = e;
          if (!is_space(utf8::next(text, j))) break;
          e = j;
        }
        stop = e;
        pos = stop;
      }
      if (start_offset < start) out.push_back({start_offset, start, -1});
      out.push_back({start, stop, t.id});
      start_offset = stop;
    }
  }
  if (start_offset < text.size()) out.push_back({start_offset, text.size(), -1});
}

}  // namespace pagedkv
