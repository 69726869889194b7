// A C ABI over plan_paged_decode_cuda / paged_decode_cuda, for the benchmark script (ctypes):
// torch owns the tensors, pagedkv runs on them in the same process, on torch's stream.

#include <cstdint>
#include <exception>
#include <string>

#include "attention/cuda/paged_decode_cuda.h"

namespace {
thread_local std::string g_error;
}

extern "C" {

const char* pkv_last_error() { return g_error.c_str(); }

// kv_dtype / q_dtype codes: 0 f32, 1 f16, 2 bf16, 3 fp8_e4m3 (pagedkv::DType order).
void* pkv_plan(int batch, int hq, int hkv, int head_dim, int kv_dtype, int expected_len,
               int num_splits, int q_dtype) {
  try {
    pagedkv::PagedDecodeCudaShape s;
    s.batch_size = batch;
    s.num_q_heads = hq;
    s.num_kv_heads = hkv;
    s.head_dim = head_dim;
    s.kv_dtype = pagedkv::DType(kv_dtype);
    s.expected_len = expected_len;
    s.num_splits = num_splits;
    s.q_dtype = pagedkv::DType(q_dtype);
    return new pagedkv::PagedDecodeCudaPlan(pagedkv::plan_paged_decode_cuda(s));
  } catch (const std::exception& e) {
    g_error = e.what();
    return nullptr;
  }
}

void pkv_plan_free(void* plan) { delete static_cast<pagedkv::PagedDecodeCudaPlan*>(plan); }
int64_t pkv_workspace_bytes(void* plan) {
  return int64_t(static_cast<pagedkv::PagedDecodeCudaPlan*>(plan)->workspace_bytes);
}
int pkv_num_splits(void* plan) {
  return static_cast<pagedkv::PagedDecodeCudaPlan*>(plan)->num_splits;
}
int pkv_ctas_per_sm(void* plan) {
  return static_cast<pagedkv::PagedDecodeCudaPlan*>(plan)->ctas_per_sm;
}
int pkv_head_parallel(void* plan) {
  return static_cast<pagedkv::PagedDecodeCudaPlan*>(plan)->head_parallel ? 1 : 0;
}

int pkv_init_workspace(void* plan, void* ws, void* stream) {
  try {
    pagedkv::init_paged_decode_workspace(*static_cast<pagedkv::PagedDecodeCudaPlan*>(plan), ws,
                                         static_cast<cudaStream_t>(stream));
    return 0;
  } catch (const std::exception& e) {
    g_error = e.what();
    return -1;
  }
}

int pkv_run(void* plan, const void* q, int q_dtype, void* out, float* lse, const void* k,
            const void* v, int kv_dtype, int num_blocks, int block_size, int hkv, int head_dim,
            const int32_t* indptr, const int32_t* indices, const int32_t* first_offset,
            const int32_t* visible_len, int batch, int hq, float scale, float softcap,
            const float* sinks, float k_scale, float v_scale, void* ws, void* stream) {
  try {
    pagedkv::DecodeParams p;
    p.q = q;
    p.q_dtype = pagedkv::DType(q_dtype);
    p.num_q_heads = hq;
    p.kv = pagedkv::make_nhd_view(k, v, pagedkv::DType(kv_dtype), num_blocks, block_size, hkv,
                                  head_dim);
    p.kv.k_scale = k_scale;
    p.kv.v_scale = v_scale;
    p.pages.indptr = indptr;
    p.pages.indices = indices;
    p.pages.first_offset = first_offset;
    p.pages.visible_len = visible_len;
    p.pages.batch_size = batch;
    p.scale = scale;
    p.softcap = softcap;
    p.sinks = sinks;
    p.out = out;
    p.lse = lse;
    pagedkv::paged_decode_cuda(*static_cast<pagedkv::PagedDecodeCudaPlan*>(plan), p, ws,
                               static_cast<cudaStream_t>(stream));
    return 0;
  } catch (const std::exception& e) {
    g_error = e.what();
    return -1;
  }
}

}  // extern "C"
