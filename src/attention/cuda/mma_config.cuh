#pragma once
// MmaCfg: the tensor-core kernel's tile and shared-memory plan per (head dim, KV kind): tokens per
// warp tile, ring depth, page-id ring, warp-region alignment.

#include "attention/cuda/decode_kernel_args.h"

namespace pagedkv::cuda_detail {

template <int D, KvKind KV>
struct MmaCfg {
  static constexpr bool kFp8 = KV == KvKind::kFP8;
  static constexpr int kEs = kFp8 ? 1 : 2;
  // Tokens per warp tile: 16 for 16-bit KV, 32 for fp8 at D <= 128 (a tile then carries as
  // many bytes as a 16-bit one, and the per-tile softmax, rescale and loop costs are spread over
  // twice the tokens; fp8 is compute-bound: 2-6% faster than 16-token tiles).
  static constexpr int kTile = kFp8 && D <= 128 ? 32 : 16;
  static constexpr int kNTiles = kTile / 8;  // S n-tiles (8 tokens each) per warp tile
  static constexpr int kRowBytes = D * kEs;  // stored row in the ring
  static constexpr int kChunksPerRow = kRowBytes / 16;
  static constexpr int kChunksPerLane = kTile * kChunksPerRow / 32;  // per K (and V) tile
  static constexpr int kStageBytes = 2 * kTile * kRowBytes;
  static constexpr int kStages = kFp8 ? (D == 64 ? 5 : 3) : (D == 64 ? 6 : D == 128 ? 3 : 2);
  // Early release: the tile leaves its stage before the math (D <= 128: K and V fragments go
  // to registers, 64 at D = 128 for 16-bit KV, 32 raw for fp8), so the stage is refilled at
  // once and all kStages tiles stay in flight instead of kStages - 1. No gain on H200, and deeper
  // rings (4, 6 stages) are 1-7% slower: bytes in flight are not the limit. Kept as neutral.
  static constexpr bool kEarlyRelease = D <= 128;
  static constexpr int kLead = kEarlyRelease ? kStages : kStages - 1;  // tiles in flight
  // K/V copies carry the L2 evict-first policy (kv_l2_policy), except fp8 at D = 256: its
  // kernel has no register to spare for the policy and per-thread destinations (ptxas spills).
  static constexpr bool kL2Hint = !(kFp8 && D == 256);
  static constexpr int kPidSlots = 2 * kLead;  // page-id ring, one slot per tile
  static constexpr int kPidBytes = kPidSlots * kTile * 4;
  // 16-bit KV: each warp's region starts on a 1 KB boundary (regions padded to whole KB, the
  // CTA's buffer aligned at run time, hence 1 KB of slack): on H200 7-14% faster at the
  // tile-parallel points (32/8 B=16 L=4k 79.7 -> 70.0 us), +-1% at the head-parallel ones;
  // 512-byte and 2 KB alignment measured the same. With the regions only 128-byte aligned, the
  // 16-byte copies fetched every K/V sector twice from L2 (ncu). fp8 keeps
  // 16-byte alignment: not measured with the padding, and its D = 256 kernel then spills
  // registers (ptxas).
  static constexpr int kAlign = kFp8 ? 16 : 1024;
  static constexpr int kWarpBytes =
      (kStages * kStageBytes + kPidBytes + kAlign - 1) / kAlign * kAlign;
  static constexpr int kSlack = kAlign > 16 ? kAlign : 0;
  static constexpr int kSmemBytes = kWarps * kWarpBytes + kSlack;            // tile-parallel CTA
  static constexpr int kHeadsSmemBytes = kHeadsWarps * kWarpBytes + kSlack;  // head-parallel CTA
  static_assert(kTile * kChunksPerRow % 32 == 0, "tile must split evenly over a warp");
  static_assert(kStages * kStageBytes >= 128 * 4, "an idle ring holds <= 128 merge weights");
};

}  // namespace pagedkv::cuda_detail
