#include "model/cuda/step_upload.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "core/cuda/cuda_check.h"
#include "core/error.h"

namespace pagedkv::cuda {

// Byte offsets of one group's arrays in the uploaded buffer, turned into device pointers after
// the copy.
struct StepUpload::Offsets {
  size_t slots = 0, q_indptr = 0, q_pos = 0, kv_indptr = 0, kv_indices = 0, kv_base = 0;
  size_t indptr = 0, indices = 0, first_offset = 0, visible_len = 0;
  int32_t batch = 0, max_visible = 0;
};

// One group's host-side metadata for the rows.
struct StepUpload::GroupRows {
  std::vector<int64_t> slots;  // [R]
  PageList pages;              // decode rows
};

StepUpload::~StepUpload() {
  if (pinned_) cudaFreeHost(pinned_);
}

template <typename T>
size_t StepUpload::put(std::span<const T> values) {
  const size_t offset = (host_.size() + 7) / 8 * 8;
  host_.resize(offset + values.size_bytes());
  if (!values.empty()) std::memcpy(host_.data() + offset, values.data(), values.size_bytes());
  return offset;
}

std::vector<StepUpload::GroupRows> StepUpload::collect(KvCache& cache,
                                                       const ForwardRows& rows) const {
  const int64_t R = rows.size();
  std::vector<GroupRows> out(size_t(cache.num_groups()));
  for (int32_t g = 0; g < cache.num_groups(); ++g) {
    const int64_t bs = cache.geometry(g).block_size;
    GroupRows& o = out[size_t(g)];
    o.slots.resize(size_t(R));
    for (int64_t r = 0; r < R; ++r) {
      const TokenSlot at = cache.slot_for_write(rows.seq[r], g, rows.pos[r]);  // copy-on-write
      o.slots[size_t(r)] = int64_t(at.block) * bs + at.slot;
    }
    if (!rows.prefill) o.pages = cache.page_list(g, rows.seq);  // after the copies
  }
  return out;
}

// A decode row's query indptr (one row per sequence) and the position of slot 0 of its first
// listed block, for the prefill kernel's view of the rows: the first visible position minus its
// offset in that block.
void StepUpload::put_decode_rows(const PageList& p, std::span<const int32_t> pos, size_t capacity,
                                 Offsets& o) {
  const size_t B = size_t(p.batch_size());
  std::vector<int32_t> q_indptr(B + 1), kv_base(B);
  for (size_t b = 0; b < B; ++b) {
    q_indptr[b + 1] = int32_t(b + 1);
    kv_base[b] = pos[b] + 1 - p.visible_len[b] - p.first_offset[b];
  }
  o.q_indptr = put(std::span<const int32_t>(q_indptr));
  host_.resize(std::max(host_.size(), o.q_indptr + (capacity + 1) * sizeof(int32_t)));
  o.kv_base = put(std::span<const int32_t>(kv_base));
  host_.resize(std::max(host_.size(), o.kv_base + capacity * sizeof(int32_t)));
}

void StepUpload::upload(cudaStream_t stream) {
  if (host_.size() > pinned_bytes_) {
    if (pinned_) cudaFreeHost(pinned_);
    pinned_ = nullptr;
    pinned_bytes_ = host_.size() * 2;
    void* p = nullptr;
    cuda_check(cudaMallocHost(&p, pinned_bytes_), "pinned step metadata");
    pinned_ = static_cast<std::byte*>(p);
    device_ = DeviceBuffer(pinned_bytes_, "step metadata");
  }
  std::memcpy(pinned_, host_.data(), host_.size());
  cuda_check(cudaMemcpyAsync(device_.data(), pinned_, host_.size(), cudaMemcpyHostToDevice, stream),
             "uploading step metadata");
}

void StepUpload::point_groups(const std::vector<Offsets>& off, bool prefill) {
  groups_.assign(off.size(), Group{});
  for (size_t g = 0; g < off.size(); ++g) {
    const Offsets& o = off[g];
    Group& d = groups_[g];
    d.slots = ptr<int64_t>(o.slots);
    if (prefill) {
      d.q_indptr = ptr<int32_t>(o.q_indptr);
      d.q_pos = ptr<int32_t>(o.q_pos);
      d.kv_indptr = ptr<int32_t>(o.kv_indptr);
      d.kv_indices = ptr<int32_t>(o.kv_indices);
      d.kv_base = ptr<int32_t>(o.kv_base);
    } else {
      d.pages.indptr = ptr<int32_t>(o.indptr);
      d.pages.indices = ptr<int32_t>(o.indices);
      d.pages.first_offset = ptr<int32_t>(o.first_offset);
      d.pages.visible_len = ptr<int32_t>(o.visible_len);
      d.pages.batch_size = o.batch;
      d.max_visible = o.max_visible;
      // The same rows as the prefill kernel reads them (one query row per sequence).
      d.q_indptr = ptr<int32_t>(o.q_indptr);
      d.q_pos = ptr<int32_t>(pos_);
      d.kv_indptr = d.pages.indptr;
      d.kv_indices = d.pages.indices;
      d.kv_base = ptr<int32_t>(o.kv_base);
    }
  }
}

void StepUpload::build_and_upload(KvCache& cache, const ForwardRows& rows,
                                  std::span<const int32_t> tokens, cudaStream_t stream) {
  const int64_t R = rows.size();
  const std::vector<GroupRows> data = collect(cache, rows);
  host_.clear();
  std::vector<int32_t> pos32(rows.pos.begin(), rows.pos.end());
  tokens_ = put(tokens);
  pos_ = put(std::span<const int32_t>(pos32));
  std::vector<Offsets> off(data.size());
  for (size_t g = 0; g < data.size(); ++g) {
    Offsets& o = off[g];
    o.slots = put(std::span<const int64_t>(data[g].slots));
    if (rows.prefill) {
      const BlockTable& t = cache.table(int32_t(g), rows.seq[0]);
      const int64_t bs = cache.geometry(int32_t(g)).block_size;
      const int32_t q_indptr[2] = {0, int32_t(R)}, q_pos[1] = {int32_t(rows.pos[0])};
      const int32_t kv_indptr[2] = {0, int32_t(t.blocks().size())};
      const int32_t kv_base[1] = {int32_t(t.num_released() * bs)};
      o.q_indptr = put(std::span<const int32_t>(q_indptr));
      o.q_pos = put(std::span<const int32_t>(q_pos));
      o.kv_indptr = put(std::span<const int32_t>(kv_indptr));
      o.kv_indices = put(std::span<const int32_t>(t.blocks()));
      o.kv_base = put(std::span<const int32_t>(kv_base));
    } else {
      const PageList& pages = data[g].pages;
      o.indptr = put(std::span<const int32_t>(pages.indptr));
      o.indices = put(std::span<const int32_t>(pages.indices));
      o.first_offset = put(std::span<const int32_t>(pages.first_offset));
      o.visible_len = put(std::span<const int32_t>(pages.visible_len));
      o.batch = pages.batch_size();
      o.max_visible = *std::max_element(pages.visible_len.begin(), pages.visible_len.end());
      put_decode_rows(pages, pos32, 0, o);
    }
  }
  upload(stream);
  point_groups(off, rows.prefill);
}

bool StepUpload::build_and_upload_padded(KvCache& cache, const ForwardRows& rows,
                                         std::span<const int32_t> tokens, int32_t padded,
                                         cudaStream_t stream) {
  const int64_t B = rows.size();
  PKV_CHECK(!rows.prefill && B >= 1 && B <= padded && padded <= kMaxPadded, Internal,
            "padded step metadata: ", B, " decode rows padded to ", padded);
  std::vector<GroupRows> data = collect(cache, rows);
  // Pad on the host: token 0 at position 0, no K/V write, one visible token of the batch's
  // first block.
  std::vector<int32_t> tok(tokens.begin(), tokens.end()), pos32(rows.pos.begin(), rows.pos.end());
  tok.resize(size_t(padded), 0);
  pos32.resize(size_t(padded), 0);
  bool moved = indices_capacity_.size() != data.size();
  if (moved) indices_capacity_.assign(data.size(), 0);
  for (size_t g = 0; g < data.size(); ++g) {
    GroupRows& d = data[g];
    d.slots.resize(size_t(padded), -1);
    PageList& p = d.pages;
    const int32_t any_block = p.indices.front();
    while (p.batch_size() < padded) {
      p.indices.push_back(any_block);
      p.indptr.push_back(int32_t(p.indices.size()));
      p.first_offset.push_back(0);
      p.visible_len.push_back(1);
    }
    if (p.indices.size() > indices_capacity_[g]) {  // grow with room, so this stays rare
      indices_capacity_[g] = std::max<size_t>(p.indices.size() * 2, 4096);
      moved = true;
    }
  }
  // Fixed layout: every array at an offset that depends only on kMaxPadded and the capacities.
  host_.clear();
  const auto put_fixed = [&](const auto& values, size_t capacity) {
    using T = typename std::decay_t<decltype(values)>::value_type;
    const size_t at = put(std::span<const T>(values));
    host_.resize(at + capacity * sizeof(T));
    return at;
  };
  const size_t M = kMaxPadded;
  tokens_ = put_fixed(tok, M);
  pos_ = put_fixed(pos32, M);
  std::vector<Offsets> off(data.size());
  for (size_t g = 0; g < data.size(); ++g) {
    const PageList& p = data[g].pages;
    Offsets& o = off[g];
    o.slots = put_fixed(data[g].slots, M);
    o.indptr = put_fixed(p.indptr, M + 1);
    o.first_offset = put_fixed(p.first_offset, M);
    o.visible_len = put_fixed(p.visible_len, M);
    o.indices = put_fixed(p.indices, indices_capacity_[g]);
    put_decode_rows(p, pos32, M, o);
    o.batch = padded;
    o.max_visible =
        *std::max_element(p.visible_len.begin(), p.visible_len.begin() + std::ptrdiff_t(B));
  }
  const std::byte* before = static_cast<const std::byte*>(device_.data());
  upload(stream);
  moved = moved || device_.data() != before;
  point_groups(off, false);
  return moved;
}

}  // namespace pagedkv::cuda
