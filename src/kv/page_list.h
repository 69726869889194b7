#pragma once
// PageList: the owning form of the CSR page list of ../shared/DESIGN.md §3 for one batch of
// sequences in one layer group. Host vectors; view() gives the kernels' PageListView (copy the
// arrays to the device for a CUDA kernel).

#include <cstdint>
#include <vector>

#include "kv/kv_view.h"

namespace pagedkv {

struct PageList {
  std::vector<int32_t> indptr{0};     // [B + 1]
  std::vector<int32_t> indices;       // [indptr[B]]: physical block ids, oldest first
  std::vector<int32_t> first_offset;  // [B]: slot of the first visible token in its first block
  std::vector<int32_t> visible_len;   // [B]: visible tokens, >= 1

  int32_t batch_size() const { return int32_t(visible_len.size()); }
  PageListView view() const {
    PageListView v;
    v.indptr = indptr.data();
    v.indices = indices.data();
    v.first_offset = first_offset.data();
    v.visible_len = visible_len.data();
    v.batch_size = batch_size();
    return v;
  }
};

}  // namespace pagedkv
