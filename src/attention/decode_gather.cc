#include "attention/decode_gather.h"

#include <cstring>
#include <vector>

#include "attention/decode_validate.h"
#include "attention/dense_decode_cpu.h"
#include "core/error.h"
#include "core/thread_pool.h"

namespace pagedkv {

void decode_gather(const DecodeParams& p, DecodeGatherWorkspace& ws,
                   const CpuDecodeOptions& options) {
  validate_decode_params(p);
  PKV_CHECK(p.kv.dtype != DType::kFP8E4M3, Unsupported,
            "decode_gather: fp8 KV is not supported on the CPU (f32, f16, bf16)");
  const KvLayerView& kv = p.kv;
  const PageListView& pl = p.pages;
  const int32_t B = pl.batch_size, Hkv = kv.num_kv_heads, D = kv.head_dim;
  if (B == 0) return;
  const size_t esize = dtype_size(kv.dtype);
  const size_t token_bytes = size_t(Hkv) * D * esize;  // one token, all kv heads, contiguous
  std::vector<int64_t> start(B + 1, 0);                // token offset of sequence b in the buffer
  for (int32_t b = 0; b < B; ++b) start[b + 1] = start[b] + pl.visible_len[b];
  const size_t need = std::max<size_t>(size_t(start[B]) * token_bytes, 64);
  if (ws.k.bytes() < need) ws.k = AlignedBuffer(need);
  if (ws.v.bytes() < need) ws.v = AlignedBuffer(need);

  // Copy: runs of consecutive slots inside one block are one memcpy when the pool is dense NHD.
  const bool dense_rows = kv.stride_head == D && kv.stride_token == int64_t(Hkv) * D;
  ThreadPool& pool = options.pool ? *options.pool : ThreadPool::global();
  pool.parallel_for(size_t(B), [&](size_t bi) {
    const int32_t b = int32_t(bi);
    const int32_t len = pl.visible_len[b];
    int32_t t = 0;
    int64_t pos = pl.first_offset[b];
    for (int32_t blk = pl.indptr[b]; t < len; ++blk) {
      const int32_t slot = int32_t(pos % kv.block_size);
      const int32_t n = std::min(len - t, kv.block_size - slot);
      const int64_t block = pl.indices[blk];
      for (int side = 0; side < 2; ++side) {
        const uint8_t* src = static_cast<const uint8_t*>(side ? kv.v : kv.k);
        uint8_t* dst = (side ? ws.v : ws.k).as<uint8_t>() + size_t(start[b] + t) * token_bytes;
        if (dense_rows) {
          std::memcpy(dst, src + size_t(block * kv.stride_block + slot * kv.stride_token) * esize,
                      size_t(n) * token_bytes);
        } else {
          for (int32_t i = 0; i < n; ++i) {
            for (int32_t h = 0; h < Hkv; ++h) {
              const int64_t e = block * kv.stride_block + int64_t(slot + i) * kv.stride_token +
                                int64_t(h) * kv.stride_head;
              std::memcpy(dst + size_t(i) * token_bytes + size_t(h) * D * esize,
                          src + size_t(e) * esize, size_t(D) * esize);
            }
          }
        }
      }
      t += n;
      pos += n;
    }
  });

  std::vector<const void*> ks(B), vs(B);
  for (int32_t b = 0; b < B; ++b) {
    ks[b] = ws.k.as<uint8_t>() + size_t(start[b]) * token_bytes;
    vs[b] = ws.v.as<uint8_t>() + size_t(start[b]) * token_bytes;
  }
  dense_decode_cpu(dense_params_for(p, ks.data(), vs.data()), options);
}

void decode_gather(const DecodeParams& p, const CpuDecodeOptions& options) {
  DecodeGatherWorkspace ws;
  decode_gather(p, ws, options);
}

}  // namespace pagedkv
