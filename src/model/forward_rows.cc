#include "model/forward_rows.h"

#include <set>

#include "core/error.h"

namespace pagedkv {

namespace {

void check_prefill(const ModelConfig& c, const KvCache& cache, SeqId seq,
                   std::span<const int32_t> tokens) {
  PKV_CHECK(!tokens.empty(), InvalidArgument, "prefill: no tokens");
  for (int32_t t : tokens)
    PKV_CHECK(t >= 0 && t < c.vocab_size, InvalidArgument, "prefill: token id ", t,
              " outside the vocabulary of ", c.vocab_size);
  PKV_CHECK(cache.has_sequence(seq), InvalidArgument, "prefill: unknown sequence ", seq);
  PKV_CHECK(cache.num_layers() == c.num_layers, InvalidArgument, "prefill: cache has ",
            cache.num_layers(), " layers, model ", c.num_layers);
}

ForwardRows prefill_rows(SeqId seq, int64_t start, int64_t count) {
  ForwardRows rows;
  rows.prefill = true;
  rows.seq.assign(size_t(count), seq);
  for (int64_t i = 0; i < count; ++i) rows.pos.push_back(start + i);
  return rows;
}

}  // namespace

ForwardRows append_prefill_rows(const ModelConfig& c, KvCache& cache, SeqId seq,
                                std::span<const int32_t> tokens) {
  check_prefill(c, cache, seq, tokens);
  const int64_t start = cache.prefix_cache_enabled() ? cache.append_tokens(seq, tokens)
                                                     : cache.append(seq, int64_t(tokens.size()));
  return prefill_rows(seq, start, int64_t(tokens.size()));
}

ForwardRows appended_prefill_rows(const ModelConfig& c, const KvCache& cache, SeqId seq,
                                  int64_t start, std::span<const int32_t> tokens) {
  check_prefill(c, cache, seq, tokens);
  PKV_CHECK(start >= 0 && start + int64_t(tokens.size()) <= cache.num_tokens(seq), InvalidArgument,
            "prefill_appended: positions [", start, ", ", start + int64_t(tokens.size()),
            ") are not all appended to sequence ", seq, " (", cache.num_tokens(seq), " positions)");
  return prefill_rows(seq, start, int64_t(tokens.size()));
}

ForwardRows append_decode_rows(const ModelConfig& c, KvCache& cache, std::span<const SeqId> seqs,
                               std::span<const int32_t> tokens) {
  PKV_CHECK(!seqs.empty() && seqs.size() == tokens.size(), InvalidArgument, "decode: ", seqs.size(),
            " sequences with ", tokens.size(), " tokens");
  std::set<SeqId> distinct(seqs.begin(), seqs.end());
  PKV_CHECK(distinct.size() == seqs.size(), InvalidArgument, "decode: a sequence appears twice");
  for (size_t i = 0; i < seqs.size(); ++i) {
    PKV_CHECK(cache.has_sequence(seqs[i]) && cache.num_tokens(seqs[i]) >= 1, InvalidArgument,
              "decode: sequence ", seqs[i], " is unknown or has no prefill");
    PKV_CHECK(tokens[i] >= 0 && tokens[i] < c.vocab_size, InvalidArgument, "decode: token id ",
              tokens[i], " outside the vocabulary of ", c.vocab_size);
  }
  const std::vector<int64_t> need = cache.blocks_for_decode(seqs);
  for (int32_t g = 0; g < cache.num_groups(); ++g)
    PKV_CHECK(need[g] <= cache.allocator(g).available(), OutOfMemory, "decode: layer group ", g,
              " needs ", need[g], " KV blocks for ", seqs.size(), " sequences, ",
              cache.allocator(g).available(), " available");
  ForwardRows rows;
  rows.seq.assign(seqs.begin(), seqs.end());
  for (size_t i = 0; i < seqs.size(); ++i)
    rows.pos.push_back(cache.prefix_cache_enabled()
                           ? cache.append_tokens(seqs[i], tokens.subspan(i, 1))
                           : cache.append(seqs[i], 1));
  return rows;
}

}  // namespace pagedkv
