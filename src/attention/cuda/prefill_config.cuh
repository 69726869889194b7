#pragma once
// PrefillCfg: the paged prefill kernel's tiles and shared-memory plan per (head dim, KV kind).
//
//   head dim   M (rows)   N (keys)   stages 16-bit / fp8   smem bytes 16-bit / fp8   Q fragments
//   64         64         64         3 / 3                  58880 / 50688            registers
//   128        64         64         2 / 3                  82944 / 99840            registers
//   256        64         32         2 / 2                  98816 / 98816            shared memory
//
// A CTA is 4 warps; warp w owns packed rows 16w..16w+15 of the CTA's 64 (one m16 tile each), so
// its accumulators are O[16 x D] (D/2 f32 per lane) and S[16 x N] (N/2 per lane). The registers
// decide the tiles: at D = 256, O alone takes 128 per lane, so Q stays in shared memory (read by
// ldmatrix once per k-step) and the key tile is 32 wide; at D <= 128 Q lives in registers (D/4
// per lane) and 64-key tiles keep the per-tile softmax cost low. Every configuration stays under
// 113 KB so that two CTAs share an H200 SM (8 warps per SM; __launch_bounds__(128, 2) caps
// registers at 255; ptxas 13.0: 164-165 at D = 64, 219-221 at 128, 242-244 at 256, no spills).
// Shared memory = stages (K then V) + fp8 operand tiles + Q tile (also the output staging) +
// page-id ring.
// fp8: stages hold the raw bytes (half the 16-bit stage) and each tile is converted once per CTA
// into a 16-bit operand tile ("scratch", K and V), which all 4 warps then read like a 16-bit
// tile: one conversion per element per CTA instead of one per warp (the decode kernel converts
// in registers, but there a tile serves one warp).

namespace pagedkv::cuda_detail {

template <int D, bool kFp8In>
struct PrefillCfg {
  static constexpr bool kFp8 = kFp8In;
  static constexpr int kWarps = 4;
  static constexpr int kThreads = 32 * kWarps;
  static constexpr int kM = 16 * kWarps;         // packed (token, head) rows per CTA
  static constexpr int kN = D == 256 ? 32 : 64;  // keys per tile
  static constexpr int kStages = kFp8 ? (D == 256 ? 2 : 3) : (D == 64 ? 3 : 2);
  static constexpr int kRowBytes = 2 * D;  // 16-bit row: Q, K/V operands, output staging
  static constexpr int kRawRowBytes = kFp8 ? D : 2 * D;  // K/V row as stored in a stage
  static constexpr int kRawChunks = kRawRowBytes / 16;   // 16-byte chunks per stored row
  static constexpr int kRowsPerPass = kThreads / kRawChunks;
  static constexpr int kPasses = kN / kRowsPerPass;     // chunks per thread per K (or V) tile
  static constexpr int kTileBytes = kN * kRawRowBytes;  // one K (or V) tile as stored
  static constexpr int kStageBytes = 2 * kTileBytes;    // K then V
  static constexpr int kOpTileBytes = kN * kRowBytes;   // one 16-bit K (or V) operand tile
  static constexpr int kScratchBytes = kFp8 ? 2 * kOpTileBytes : 0;
  static constexpr int kQBytes = kM * kRowBytes;
  static constexpr int kPidSlots = 2 * kStages;         // page-id ring, one slot per tile
  static constexpr int kPidBytes = kPidSlots * kN * 4;  // page id of every key of a tile
  static constexpr int kScratchOff = kStages * kStageBytes;
  static constexpr int kQOff = kScratchOff + kScratchBytes;
  static constexpr int kPidOff = kQOff + kQBytes;
  static constexpr int kSmemBytes = kPidOff + kPidBytes;
  static constexpr bool kQInRegs = D <= 128;

  static_assert(D == 64 || D == 128 || D == 256, "head dim");
  static_assert(kThreads % kRawChunks == 0 && kN % kRowsPerPass == 0, "tile must split evenly");
  static_assert(kN % 16 == 0 && kStages >= 2, "tile shape");
  static_assert(kSmemBytes <= 113 * 1024, "two CTAs per SM");
  static_assert(kScratchOff % 128 == 0 && kQOff % 128 == 0, "swizzled tiles start on 128 bytes");
};

}  // namespace pagedkv::cuda_detail
