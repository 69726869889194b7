#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/json_util.h"
#include "tokenizer/utf8.h"

namespace pagedkv {
namespace {

constexpr const char* kWhere = "tokenizer.json: model";

// A candidate merge in the heap: lowest rank first, then leftmost position (HF's Ord for Merge).
struct Candidate {
  int32_t rank;
  int32_t pos;
  int32_t new_id;
  bool operator<(const Candidate& o) const {  // the heap pops the "largest"
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

std::pair<std::string, std::string> parse_merge(const nlohmann::json& m, size_t index) {
  if (m.is_string()) {
    const std::string& s = m.get_ref<const std::string&>();
    const size_t space = s.find(' ');
    PKV_CHECK(space != std::string::npos && s.find(' ', space + 1) == std::string::npos, Corrupt,
              kWhere, ".merges[", index, "]: expected \"left right\", got \"", s, "\"");
    return {s.substr(0, space), s.substr(space + 1)};
  }
  PKV_CHECK(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(), Corrupt, kWhere,
            ".merges[", index, "]: expected a string or a pair of strings");
  return {m[0].get<std::string>(), m[1].get<std::string>()};
}

}  // namespace

BpeModel::BpeModel(const nlohmann::json& spec, bool byte_level) : byte_level_(byte_level) {
  const std::string type = json_util::type_of(spec, kWhere);
  PKV_CHECK(type == "BPE", Unsupported, "tokenizer.json: unsupported model type '", type,
            "' (pagedkv supports BPE)");
  const double dropout = json_util::get_or(spec, "dropout", 0.0, kWhere);
  PKV_CHECK(dropout == 0.0, Unsupported, kWhere, ".dropout: BPE dropout is not supported");
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    PKV_CHECK(json_util::get_or<std::string>(spec, affix, "", kWhere).empty(), Unsupported, kWhere,
              ".", affix, ": non-empty subword affixes are not supported");
  }
  byte_fallback_ = json_util::get_or(spec, "byte_fallback", false, kWhere);
  fuse_unk_ = json_util::get_or(spec, "fuse_unk", false, kWhere);
  ignore_merges_ = json_util::get_or(spec, "ignore_merges", false, kWhere);

  const auto& vocab = json_util::field(spec, "vocab", kWhere);
  PKV_CHECK(vocab.is_object(), Corrupt, kWhere, ".vocab: expected an object {token: id}");
  token_to_id_.reserve(vocab.size());
  int64_t max_id = -1;
  for (const auto& [token, id] : vocab.items()) {
    PKV_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0 && id.get<int64_t>() < (1 << 30),
              Corrupt, kWhere, ".vocab[\"", token, "\"]: expected a non-negative integer id");
    token_to_id_.emplace(token, id.get<int32_t>());
    max_id = std::max<int64_t>(max_id, id.get<int64_t>());
  }
  id_to_token_.resize(static_cast<size_t>(max_id + 1));
  for (const auto& [token, id] : token_to_id_) id_to_token_[static_cast<size_t>(id)] = token;

  byte_id_.fill(-1);
  if (byte_level_) {
    // Re-key by raw bytes. Tokens with characters outside the byte alphabet can never be formed
    // from a byte-level word, so they stay out of this map.
    word_to_id_.reserve(token_to_id_.size());
    for (const auto& [token, id] : token_to_id_) {
      if (auto bytes = byte_level::to_bytes(token)) word_to_id_.emplace(std::move(*bytes), id);
    }
    for (int b = 0; b < 256; ++b) {
      auto it = word_to_id_.find(std::string(1, static_cast<char>(b)));
      if (it != word_to_id_.end()) byte_id_[b] = it->second;
    }
  } else if (byte_fallback_) {
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      if (auto id = this->id(name)) byte_id_[b] = *id;
    }
  }

  const auto unk = spec.find("unk_token");
  if (unk != spec.end() && !unk->is_null()) {
    PKV_CHECK(unk->is_string(), Corrupt, kWhere, ".unk_token: expected a string");
    auto id = this->id(unk->get<std::string>());
    PKV_CHECK(id.has_value(), Corrupt, kWhere, ".unk_token '", unk->get<std::string>(),
              "' is not in the vocabulary");
    unk_id_ = *id;
  }

  const auto& merges = json_util::field(spec, "merges", kWhere);
  PKV_CHECK(merges.is_array(), Corrupt, kWhere, ".merges: expected an array");
  merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto [left, right] = parse_merge(merges[rank], rank);
    const auto l = id(left), r = id(right), m = id(left + right);
    PKV_CHECK(l && r, Corrupt, kWhere, ".merges[", rank, "]: token '", l ? right : left,
              "' is not in the vocabulary");
    PKV_CHECK(m.has_value(), Corrupt, kWhere, ".merges[", rank, "]: merged token '", left + right,
              "' is not in the vocabulary");
    merges_.insert(*l, *r, Merge{static_cast<int32_t>(rank), *m});
  }
}

BpeModel::~BpeModel() = default;

std::optional<int32_t> BpeModel::id(std::string_view token) const {
  auto it = token_to_id_.find(token);
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

void BpeModel::initial_symbols(std::string_view word, std::vector<Symbol>& symbols) const {
  symbols.clear();
  auto push = [&](int32_t id, int32_t len) {
    const auto n = static_cast<int32_t>(symbols.size());
    symbols.push_back({id, n - 1, n + 1, len});
  };
  for (size_t i = 0; i < word.size();) {
    const size_t start = i;
    int32_t id = -1;
    if (byte_level_) {
      id = byte_id_[static_cast<unsigned char>(word[i++])];
    } else {
      utf8::next(word, i);
      auto it = token_to_id_.find(word.substr(start, i - start));
      if (it != token_to_id_.end()) id = it->second;
    }
    const auto len = static_cast<int32_t>(i - start);
    if (id >= 0) {
      push(id, len);
      continue;
    }
    if (byte_fallback_ && !byte_level_) {
      bool all = true;
      for (size_t k = start; k < i; ++k) all &= byte_id_[static_cast<unsigned char>(word[k])] >= 0;
      if (all) {
        for (size_t k = start; k < i; ++k) push(byte_id_[static_cast<unsigned char>(word[k])], 1);
        continue;
      }
    }
    if (unk_id_ < 0) continue;  // HF drops characters it cannot represent
    if (fuse_unk_ && !symbols.empty() && symbols.back().id == unk_id_) {
      symbols.back().len += len;
    } else {
      push(unk_id_, len);
    }
  }
  if (!symbols.empty()) symbols.back().next = -1;
}

void BpeModel::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  // Reused per thread: no allocation per word once they have grown.
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap;
  initial_symbols(word, symbols);

  heap.clear();
  auto push = [&](Candidate c) {
    heap.push_back(c);
    std::push_heap(heap.begin(), heap.end());
  };
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (const Merge* m = merges_.find(symbols[i].id, symbols[i + 1].id)) {
      heap.push_back({m->rank, static_cast<int32_t>(i), m->new_id});
    }
  }
  std::make_heap(heap.begin(), heap.end());
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const Candidate top = heap.back();
    heap.pop_back();
    Symbol& cur = symbols[static_cast<size_t>(top.pos)];
    if (cur.len == 0 || cur.next < 0) continue;
    const auto next_pos = static_cast<size_t>(cur.next);
    const Symbol right = symbols[next_pos];
    // Stale entry: the pair at this position no longer produces this token.
    const Merge* now = merges_.find(cur.id, right.id);
    if (now == nullptr || now->new_id != top.new_id) continue;

    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    symbols[next_pos].len = 0;
    if (right.next >= 0) symbols[static_cast<size_t>(right.next)].prev = top.pos;
    if (cur.prev >= 0) {
      const Symbol& prev = symbols[static_cast<size_t>(cur.prev)];
      if (const Merge* m = merges_.find(prev.id, cur.id)) push({m->rank, cur.prev, m->new_id});
    }
    if (cur.next >= 0) {
      const Symbol& next = symbols[static_cast<size_t>(cur.next)];
      if (const Merge* m = merges_.find(cur.id, next.id)) push({m->rank, top.pos, m->new_id});
    }
  }
  for (const Symbol& s : symbols) {
    if (s.len != 0) out.push_back(s.id);
  }
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    const StringIdMap& words = byte_level_ ? word_to_id_ : token_to_id_;
    if (auto it = words.find(word); it != words.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWord;
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (auto it = cache_.find(word); it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t first = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) {
      cache_.emplace(std::string(word),
                     std::vector<int32_t>(out.begin() + static_cast<long>(first), out.end()));
    }
  }
}

}  // namespace pagedkv
