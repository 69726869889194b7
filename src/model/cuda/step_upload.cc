#include "model/cuda/step_upload.h"

#include <algorithm>
#include <cstring>

#include "core/cuda/cuda_check.h"

namespace pagedkv::cuda {

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

void StepUpload::build_and_upload(KvCache& cache, const ForwardRows& rows,
                                  std::span<const int32_t> tokens, cudaStream_t stream) {
  const int64_t R = rows.size();
  host_.clear();
  std::vector<int32_t> pos32(rows.pos.begin(), rows.pos.end());
  tokens_ = put(tokens);
  pos_ = put(std::span<const int32_t>(pos32));
  // Offsets of each group's arrays, turned into device pointers after the copy.
  struct Offsets {
    size_t slots = 0, q_indptr = 0, q_pos = 0, kv_indptr = 0, kv_indices = 0, kv_base = 0;
    size_t indptr = 0, indices = 0, first_offset = 0, visible_len = 0;
    int32_t batch = 0, max_visible = 0;
  };
  std::vector<Offsets> off(size_t(cache.num_groups()));
  for (int32_t g = 0; g < cache.num_groups(); ++g) {
    const int64_t bs = cache.geometry(g).block_size;
    std::vector<int64_t> slots(static_cast<size_t>(R));  // [R]
    for (int64_t r = 0; r < R; ++r) {
      const TokenSlot at = cache.slot_for_write(rows.seq[r], g, rows.pos[r]);  // copy-on-write
      slots[r] = int64_t(at.block) * bs + at.slot;
    }
    Offsets& o = off[g];
    o.slots = put(std::span<const int64_t>(slots));
    if (rows.prefill) {
      const BlockTable& t = cache.table(g, rows.seq[0]);
      const int32_t q_indptr[2] = {0, int32_t(R)}, q_pos[1] = {int32_t(rows.pos[0])};
      const int32_t kv_indptr[2] = {0, int32_t(t.blocks().size())};
      const int32_t kv_base[1] = {int32_t(t.num_released() * bs)};
      o.q_indptr = put(std::span<const int32_t>(q_indptr));
      o.q_pos = put(std::span<const int32_t>(q_pos));
      o.kv_indptr = put(std::span<const int32_t>(kv_indptr));
      o.kv_indices = put(std::span<const int32_t>(t.blocks()));
      o.kv_base = put(std::span<const int32_t>(kv_base));
    } else {
      const PageList pages = cache.page_list(g, rows.seq);
      o.indptr = put(std::span<const int32_t>(pages.indptr));
      o.indices = put(std::span<const int32_t>(pages.indices));
      o.first_offset = put(std::span<const int32_t>(pages.first_offset));
      o.visible_len = put(std::span<const int32_t>(pages.visible_len));
      o.batch = pages.batch_size();
      o.max_visible = *std::max_element(pages.visible_len.begin(), pages.visible_len.end());
    }
  }
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
  groups_.assign(off.size(), Group{});
  for (size_t g = 0; g < off.size(); ++g) {
    const Offsets& o = off[g];
    Group& d = groups_[g];
    d.slots = ptr<int64_t>(o.slots);
    if (rows.prefill) {
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
    }
  }
}

}  // namespace pagedkv::cuda
