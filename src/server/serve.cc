#include "server/serve.h"

#include <pthread.h>
#include <signal.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <thread>

#include "core/dtype.h"
#include "core/error.h"
#include "engine/engine.h"
#include "engine/kv_budget.h"

namespace pagedkv {

std::string default_served_model_name(const std::string& model_dir) {
  std::filesystem::path p(model_dir);
  while (!p.empty() && p.filename().empty()) p = p.parent_path();  // "dir/" -> "dir"
  const std::string name = p.filename().string();
  return name.empty() || name == "." ? "model" : name;
}

namespace {

// glibc's allocator, set for a server whose memory should come back after a burst. By default
// glibc gives threads up to 8 arenas per core; hundreds of HTTP workers spread their short-lived
// allocations over all of them, and every arena keeps pages that one long-lived chunk pins
// (malloc_trim frees only whole free pages). Fewer arenas (half the cores, at least 2) keep the
// heap compact at the price of some lock contention between handler threads, which spend their
// time waiting on the engine anyway. Large blocks (request bodies, long responses) always get
// their own mapping, returned on free, instead of glibc raising that threshold to the largest
// block seen and carving them from the arenas.
void tune_malloc_for_serving() {
#ifdef __GLIBC__
  mallopt(M_ARENA_MAX, int(std::max(2u, std::thread::hardware_concurrency() / 2)));
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}

}  // namespace

int32_t kv_pool_blocks(const ServeConfig& c, const ModelRunner& model, int64_t max_model_len) {
  if (c.model.num_blocks > 0) return c.model.num_blocks;
  PKV_CHECK(c.kv_cache_gib > 0, InvalidArgument, "--kv-cache-gib must be > 0, got ",
            c.kv_cache_gib);
  const DType dtype =
      c.model.kv_dtype == "auto" ? model.default_kv_dtype() : parse_dtype(c.model.kv_dtype);
  const int32_t bs = c.model.block_size;
  if (const auto gpu = device_kv_budget(model, c.model.gpu_memory_fraction, bs, dtype,
                                        c.max_num_batched_tokens)) {
    std::fprintf(stderr, "KV cache: %s\n", gpu->summary.c_str());
    return gpu->num_blocks;
  }
  const int64_t per_block = kv_bytes_per_block(model, bs, dtype);
  const int64_t budget = int64_t(c.kv_cache_gib * double(int64_t(1) << 30)) / per_block;
  const int64_t need = int64_t(c.max_num_seqs) * ((max_model_len + bs - 1) / bs) + 1;
  return int32_t(std::clamp<int64_t>(std::min(budget, need), 2, int64_t(1) << 24));
}

void run_server(const ServeConfig& c) {
  // SIGINT / SIGTERM are blocked in every thread (threads inherit the mask) and taken by one
  // watcher thread, which stops the server; a dead client's socket must not kill us (SIGPIPE).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  tune_malloc_for_serving();

  PKV_CHECK(c.max_num_seqs >= 1 && c.max_num_batched_tokens >= 1, InvalidArgument,
            "--max-num-seqs and --max-num-batched-tokens must be >= 1");
  const Session s = Session::load(c.model);
  PKV_CHECK(s.text.has_value(), NotFound, "serve: ", c.model.model_dir,
            " has no tokenizer.json (pass --tokenizer DIR): the OpenAI API speaks text");
  EngineConfig ec = s.engine_config(0);
  ec.num_blocks = kv_pool_blocks(c, *s.model, s.max_model_len());
  ec.scheduler.max_num_seqs = c.max_num_seqs;
  ec.scheduler.max_num_batched_tokens = c.max_num_batched_tokens;
  Engine engine(*s.model, ec);

  ServedModel m;
  m.name = c.served_model_name.empty() ? default_served_model_name(c.model.model_dir)
                                       : c.served_model_name;
  m.text = &*s.text;
  m.vocab_size = s.model->vocab_size();
  m.max_model_len = engine.config().max_model_len;
  m.created = int64_t(std::time(nullptr));
  OpenAiServer server(m, engine, c.server);
  const int port = server.bind();
  const EngineMetrics em = engine.metrics();
  std::fprintf(stderr,
               "pagedkv serve: model '%s' (context %lld tokens, KV pool %d blocks of %d tokens = "
               "%.1f MiB, at most %d requests queued + running)\n"
               "pagedkv serve: listening on http://%s:%d\n",
               m.name.c_str(), (long long)m.max_model_len, ec.num_blocks, ec.block_size,
               double(em.bytes_total) / double(1 << 20), c.server.max_queued, c.server.host.c_str(),
               port);

  std::atomic<bool> finished{false};
  std::thread watcher([&] {
    const timespec slice{0, 200 * 1000 * 1000};
    bool stopping = false;
    while (!finished.load()) {
      if (!stopping && sigtimedwait(&stop_signals, nullptr, &slice) > 0) {
        std::fprintf(stderr, "pagedkv serve: stopping (requests in flight finish first)\n");
        stopping = true;
      }
      if (stopping) {
        server.stop();  // again until serve() returns: a stop before listening has begun is lost
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  });
  server.serve();
  finished = true;
  watcher.join();
  std::fprintf(stderr, "pagedkv serve: stopped\n");
}

}  // namespace pagedkv
