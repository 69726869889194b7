#pragma once
// Fused paged decode attention on the CPU (../shared/DESIGN.md §3, implementation 3): reads each
// sequence's visible tokens in place through its page list, online softmax in f32, the G query
// heads of a kv head share every K/V row load, threads over (sequence, kv head, KV split) with a
// log-sum-exp merge. q/out and KV in f32, f16 or bf16; head dims 64, 80, 96, 128, 256; any block
// size >= 1; any G (MHA, GQA, MQA); softcap and sinks.
//
// Deterministic and placement invariant: for given visible lengths, options and thread count the
// output is bit-identical whatever the physical block ids are (shuffled, identity, shared), and
// bit-identical to dense_decode_cpu / decode_gather over the same tokens.

#include "attention/cpu_decode_options.h"
#include "attention/decode_params.h"

namespace pagedkv {

// Validates p (validate_decode_params; fp8 KV is Unsupported here), then writes p.out and p.lse.
void paged_decode_cpu(const DecodeParams& p, const CpuDecodeOptions& options = {});

}  // namespace pagedkv
