#pragma once
// StepUpload: everything the device needs to know about one forward pass's rows — token ids,
// positions, each row's slot in every layer group's pool, and each group's block list (prefill)
// or CSR page list (decode) — packed on the host into one pinned buffer and sent with one async
// copy. Building it asks the cache for write slots, which copies shared blocks first
// (copy-on-write on the device), so page lists are taken after that.

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/cuda/device_buffer.h"
#include "kv/kv_cache.h"
#include "model/forward_rows.h"

namespace pagedkv::cuda {

class StepUpload {
 public:
  StepUpload() = default;
  ~StepUpload();
  StepUpload(const StepUpload&) = delete;
  StepUpload& operator=(const StepUpload&) = delete;

  // Device views of one group's metadata (valid after upload()).
  struct Group {
    const int64_t* slots = nullptr;  // [R]: block * block_size + offset of each row
    // Prefill rows (one sequence): its rows start at q_pos[0]; its held blocks from kv_base[0].
    // Decode rows: the same view with one row per sequence (the prefill kernel can take them):
    // q_indptr [B + 1] = 0, 1, ..., B; q_pos [B]; kv_indptr / kv_indices the page list's;
    // kv_base [B] the position of slot 0 of each sequence's first listed block.
    const int32_t* q_indptr = nullptr;   // [2] = {0, R}
    const int32_t* q_pos = nullptr;      // [1]
    const int32_t* kv_indptr = nullptr;  // [2]
    const int32_t* kv_indices = nullptr;
    const int32_t* kv_base = nullptr;  // [1]
    // Decode rows: the CSR page list of the batch's visible blocks.
    PageListView pages;
    int32_t max_visible = 0;  // longest visible length (tunes the decode plan)
  };

  // Packs the rows (already appended to the cache) and uploads on `stream`. The pinned buffer is
  // reused: the caller synchronises the stream before the next build (every forward does).
  void build_and_upload(KvCache& cache, const ForwardRows& rows, std::span<const int32_t> tokens,
                        cudaStream_t stream);

  // Decode rows padded to `padded` (<= kMaxPadded) rows in a fixed layout, for a CUDA graph that
  // captured these device addresses: every array sits at the same offset on every call, so a
  // graph replays over fresh metadata. A padding row writes no K/V (slot -1) and attends to one
  // token of a block the batch already reads (the decode kernel wants >= 1 visible token); its
  // outputs are discarded. Returns true when the layout moved (a page list outgrew its capacity)
  // and graphs captured over the old addresses must be dropped.
  static constexpr int32_t kMaxPadded = 512;
  bool build_and_upload_padded(KvCache& cache, const ForwardRows& rows,
                               std::span<const int32_t> tokens, int32_t padded,
                               cudaStream_t stream);

  const int32_t* tokens() const { return ptr<int32_t>(tokens_); }
  const int32_t* positions() const { return ptr<int32_t>(pos_); }
  const Group& group(int32_t g) const { return groups_[size_t(g)]; }

 private:
  template <typename T>
  size_t put(std::span<const T> values);  // appends to host_, 8-byte aligned; returns the offset
  template <typename T>
  const T* ptr(size_t offset) const {
    return reinterpret_cast<const T*>(static_cast<const std::byte*>(device_.data()) + offset);
  }

  struct Offsets;
  struct GroupRows;
  std::vector<GroupRows> collect(KvCache& cache, const ForwardRows& rows) const;
  void put_decode_rows(const PageList& pages, std::span<const int32_t> pos, size_t capacity,
                       Offsets& o);
  void upload(cudaStream_t stream);
  void point_groups(const std::vector<Offsets>& off, bool prefill);

  std::vector<std::byte> host_;
  std::byte* pinned_ = nullptr;
  size_t pinned_bytes_ = 0;
  DeviceBuffer device_;
  size_t tokens_ = 0, pos_ = 0;
  std::vector<Group> groups_;
  std::vector<size_t> indices_capacity_;  // padded layout: per group, in block ids
};

}  // namespace pagedkv::cuda
