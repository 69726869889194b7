// dev/cuda_emu: the emulator runtime. Each CTA runs its threads as cooperative contexts
// (ucontext to start, _setjmp/_longjmp to switch) that yield at warp collectives and barriers;
// warp collectives, CTA barriers, cp.async queues, global / shared bounds checks, deadlock
// detection; and a fake CUDA runtime (malloc-backed device memory, capture-and-replay graphs).
#include "emu.h"
#include "emu_launch.h"

#include <csetjmp>
#include <map>
#include <random>
#include <ucontext.h>
#undef threadIdx
#undef blockIdx
#undef gridDim
#undef blockDim

namespace emu {

struct Copy {
  uint32_t dst;
  const uint8_t* src;
  int bytes, src_bytes;
};
struct Thread {
  uint3 tid;
  int lane = 0, warp = 0;
  bool started = false, done = false;
  ucontext_t uc;
  jmp_buf jb;
  std::vector<char> stack;
  std::vector<std::vector<Copy>> groups;
  std::vector<Copy> open;
};

namespace {
Cta g_cta;
std::vector<Thread> g_threads;
int g_cur = -1;
jmp_buf g_sched;
ucontext_t g_main_uc;
const std::function<void()>* g_body = nullptr;
std::mt19937 g_rng(1);
int g_mode_early = 0;

struct WarpSync {
  int count = 0, op = -1;
  uint64_t gen = 0;
  uint64_t in[2][32][8], out[2][32][8];
};
std::vector<WarpSync> g_warps;
int g_bar_count = 0;
uint64_t g_bar_gen = 0;

std::map<uintptr_t, size_t> g_ranges;  // global memory: start -> bytes
}  // namespace

Thread& cur() { return g_threads[g_cur]; }
const Cta& cta() { return g_cta; }
const uint3& cur_tid() { return g_threads[g_cur].tid; }
int lane() { return cur().lane; }

void die(const char* what) {
  std::fprintf(stderr, "EMU ERROR: %s (block %u,%u,%u thread %d)\n", what, g_cta.blockIdx.x,
               g_cta.blockIdx.y, g_cta.blockIdx.z, g_cur);
  std::abort();
}

void register_global(const void* p, size_t bytes) { g_ranges[uintptr_t(p)] = bytes; }
void unregister_global(const void* p) { g_ranges.erase(uintptr_t(p)); }

void check_global(const void* p, size_t bytes, const char* what) {
  const uintptr_t a = uintptr_t(p);
  auto it = g_ranges.upper_bound(a);
  if (it != g_ranges.begin()) {
    --it;
    if (a >= it->first && a + bytes <= it->first + it->second) return;
  }
  std::fprintf(stderr, "EMU: %s reads %zu bytes at %p outside every allocation\n", what, bytes, p);
  die("global out of bounds");
}
void check_shared(uint32_t off, size_t bytes, const char* what) {
  if (size_t(off) + bytes > g_cta.smem_bytes) {
    std::fprintf(stderr, "EMU: %s at shared %u + %zu > %zu\n", what, off, bytes, g_cta.smem_bytes);
    die("shared out of bounds");
  }
}
uint8_t* shared_ptr(uint32_t off) { return g_cta.smem + off; }
uint32_t shared_off(const void* p) {
  const uint8_t* q = static_cast<const uint8_t*>(p);
  if (q < g_cta.smem || q > g_cta.smem + g_cta.smem_bytes) die("not a shared address");
  return uint32_t(q - g_cta.smem);
}

static void yield() {
  if (!_setjmp(cur().jb)) _longjmp(g_sched, 1);
}

template <typename P>
static void wait_until(P pred) {
  while (!pred()) yield();
}

void collective(int op, const uint64_t* in, int n, uint64_t* out, int m,
                const std::function<void(uint64_t (*)[8], uint64_t (*)[8])>& compute) {
  Thread& t = cur();
  WarpSync& w = g_warps[t.warp];
  const uint64_t gen = w.gen;
  const int p = int(gen & 1);
  if (w.count == 0) w.op = op;
  else if (w.op != op) die("divergent warp collective");
  for (int i = 0; i < n; ++i) w.in[p][t.lane][i] = in[i];
  if (++w.count == 32) {
    compute(w.in[p], w.out[p]);
    w.count = 0;
    w.gen++;
  } else {
    wait_until([&] { return w.gen != gen; });
  }
  for (int i = 0; i < m; ++i) out[i] = w.out[p][t.lane][i];
}
void syncwarp() {
  uint64_t x = 0, y;
  collective(50, &x, 1, &y, 1, [](uint64_t (*)[8], uint64_t (*)[8]) {});
}
void syncthreads() {
  const uint64_t gen = g_bar_gen;
  if (++g_bar_count == int(g_threads.size())) {
    g_bar_count = 0;
    g_bar_gen++;
  } else {
    wait_until([&] { return g_bar_gen != gen; });
  }
}

static void land(const Copy& c) {
  check_shared(c.dst, c.bytes, "cp.async dst");
  uint8_t* d = g_cta.smem + c.dst;
  if (c.src_bytes > 0) std::memcpy(d, c.src, c.src_bytes);
  std::memset(d + c.src_bytes, 0, c.bytes - c.src_bytes);
}
void cp_async(uint32_t dst, const void* src, int bytes, int src_bytes) {
  if (dst % bytes) die("cp.async dst misaligned");
  if (uintptr_t(src) % bytes) die("cp.async src misaligned");
  if (src_bytes > 0) check_global(src, src_bytes, "cp.async src");
  Copy c{dst, static_cast<const uint8_t*>(src), bytes, src_bytes};
  if (g_mode_early) land(c);
  else cur().open.push_back(c);
}
void cp_commit() {
  cur().groups.push_back(std::move(cur().open));
  cur().open.clear();
}
void cp_wait(int n) {
  Thread& t = cur();
  while (int(t.groups.size()) > n) {
    for (const Copy& c : t.groups.front()) land(c);
    t.groups.erase(t.groups.begin());
  }
}

static void trampoline() {
  (*g_body)();
  Thread& t = cur();
  if (!t.open.empty()) die("exit with uncommitted cp.async");
  for (auto& g : t.groups)
    if (!g.empty()) die("exit with pending (non-empty) cp.async groups");
  t.done = true;
  _longjmp(g_sched, 1);
}

void set_mode(int early, unsigned seed) {
  g_mode_early = early;
  g_rng.seed(seed);
}

void run_cta(uint3 block, dim3 grid, dim3 blockdim, uint8_t* smem, size_t smem_bytes,
             const std::function<void()>& body) {
  g_cta.blockIdx = block;
  g_cta.gridDim = grid;
  g_cta.blockDim = blockdim;
  g_cta.smem = smem;
  g_cta.smem_bytes = smem_bytes;
  const int n = int(blockdim.x);
  if (int(g_threads.size()) != n) g_threads = std::vector<Thread>(n);
  g_warps.assign((n + 31) / 32, WarpSync{});
  g_bar_count = 0;
  g_body = &body;
  for (int i = 0; i < n; ++i) {
    Thread& t = g_threads[i];
    t.tid = make_uint3(unsigned(i), 0, 0);
    t.lane = i % 32;
    t.warp = i / 32;
    t.started = t.done = false;
    t.groups.clear();
    t.open.clear();
    if (t.stack.empty()) t.stack.resize(512 * 1024);
    getcontext(&t.uc);
    t.uc.uc_stack.ss_sp = t.stack.data();
    t.uc.uc_stack.ss_size = t.stack.size();
    t.uc.uc_link = nullptr;
    makecontext(&t.uc, trampoline, 0);
  }
  // Poison shared memory: nothing may be read before it is written.
  std::memset(smem, 0xcd, smem_bytes);
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  int stalls = 0;
  for (;;) {
    std::shuffle(order.begin(), order.end(), g_rng);
    bool any = false;
    const uint64_t progress = g_bar_gen;
    uint64_t wg = 0;
    for (auto& w : g_warps) wg += w.gen;
    for (int i : order) {
      Thread& t = g_threads[i];
      if (t.done) continue;
      any = true;
      g_cur = i;
      if (!_setjmp(g_sched)) {
        if (!t.started) {
          t.started = true;
          swapcontext(&g_main_uc, &t.uc);
        } else {
          _longjmp(t.jb, 1);
        }
      }
    }
    if (!any) break;
    uint64_t wg2 = 0;
    for (auto& w : g_warps) wg2 += w.gen;
    bool moved = g_bar_gen != progress || wg2 != wg;
    if (!moved) {
      // Threads may still be progressing between sync points; detect a true deadlock: every
      // live thread waiting at a barrier or collective that cannot complete.
      if (++stalls > 4) die("deadlock: live threads wait at a barrier or collective forever");
    } else {
      stalls = 0;
    }
  }
  g_cur = -1;
}

}  // namespace emu

// ---------------- fake CUDA runtime ----------------
extern "C" {
cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
cudaError_t cudaGetDevice(int* d) { *d = 0; return cudaSuccess; }
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
const char* cudaGetErrorString(cudaError_t) { return "emulated error"; }
cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  emu::register_global(*p, bytes);
  return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
  emu::unregister_global(p);
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  std::memcpy(d, s, n);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* d, int v, size_t n) { std::memset(d, v, n); return cudaSuccess; }
cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t) {
  std::memset(d, v, n);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaFuncSetAttribute(const void*, cudaFuncAttribute, int v) {
  if (v > 227 * 1024) return cudaErrorInvalidValue;
  return cudaSuccess;
}
}
namespace emu {
namespace {
std::vector<std::function<void()>>* g_capture = nullptr;
}
bool capturing() { return g_capture != nullptr; }
void record(std::function<void()> job) { g_capture->push_back(std::move(job)); }
}  // namespace emu
extern "C" {
cudaError_t cudaStreamCreate(cudaStream_t* s) {
  *s = reinterpret_cast<cudaStream_t>(new int(0));
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) { delete reinterpret_cast<int*>(s); return cudaSuccess; }
cudaError_t cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) {
  emu::g_capture = new std::vector<std::function<void()>>();
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t, cudaGraph_t* g) {
  *g = reinterpret_cast<cudaGraph_t>(emu::g_capture);
  emu::g_capture = nullptr;
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* e, cudaGraph_t g, unsigned long long) {
  *e = reinterpret_cast<cudaGraphExec_t>(g);
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t e, cudaStream_t) {
  for (auto& j : *reinterpret_cast<std::vector<std::function<void()>>*>(e)) j();
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t) { return cudaSuccess; }
cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  delete reinterpret_cast<std::vector<std::function<void()>>*>(g);
  return cudaSuccess;
}
}
extern "C" {
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr, int) { *v = 132; return cudaSuccess; }
cudaError_t cudaOccupancyMaxActiveBlocksPerMultiprocessor(int* n, const void*, int, size_t) {
  *n = 2;
  return cudaSuccess;
}
}
