#pragma once
// The server's metrics and their Prometheus text exposition (GET /metrics, format 0.0.4):
// `# HELP` / `# TYPE` per family, counters ending in _total, histograms as cumulative
// _bucket{le="..."} lines with +Inf, _sum and _count. Thread-safe: the engine thread records
// latencies, tokens and finishes and publishes the engine's pool and queue state after each step;
// HTTP threads count their errors and render. One mutex; every record is O(1) (a histogram
// observation is a scan of ~20 bucket bounds), so the engine thread is never held up.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace pagedkv {

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);  // ascending; +Inf is implicit
  void observe(double v);
  // name_bucket{le="..."} (cumulative), name_bucket{le="+Inf"}, name_sum, name_count.
  void render(std::string& out, const std::string& name) const;
  int64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;  // [bounds + 1], per bucket (not cumulative)
  double sum_ = 0;
  int64_t count_ = 0;
};

class ServerMetrics {
 public:
  ServerMetrics();

  // Engine thread.
  void observe_time_to_first_token(double seconds);
  void observe_time_per_output_token(double seconds);
  void observe_request_latency(double seconds);
  void add_prompt_tokens(int64_t n);
  void add_generation_tokens(int64_t n);
  void count_finished(const std::string& reason);  // "stop", "length", "abort", "error"
  // The engine's state after a step; `queued`: requests handed over but not yet in the engine.
  void set_engine(const EngineMetrics& m, int64_t queued);

  // HTTP threads: an error response (400, 404, 413, 503, 500).
  void count_error(int status);

  std::string render() const;
  // The engine state last published (tests, logs).
  EngineMetrics engine() const {
    std::lock_guard<std::mutex> lock(mu_);
    return engine_;
  }

 private:
  mutable std::mutex mu_;
  EngineMetrics engine_;
  int64_t queued_ = 0;
  int64_t prompt_tokens_ = 0, generation_tokens_ = 0;
  std::map<std::string, int64_t> finished_;  // by reason
  std::map<int, int64_t> errors_;            // by HTTP status
  Histogram ttft_, tpot_, latency_;
};

}  // namespace pagedkv
