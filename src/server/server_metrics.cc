#include "server/server_metrics.h"

#include <charconv>
#include <cmath>

namespace pagedkv {

namespace {

// Prometheus sample values: the shortest text that reads back as the same double ("0.04", "12").
std::string num(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

void family(std::string& out, const std::string& name, const char* type, const char* help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void sample(std::string& out, const std::string& name, double v, const std::string& labels = "") {
  out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + num(v) + "\n";
}

void gauge(std::string& out, const std::string& name, const char* help, double v) {
  family(out, name, "gauge", help);
  sample(out, name, v);
}

void counter(std::string& out, const std::string& name, const char* help, double v) {
  family(out, name, "counter", help);
  sample(out, name, v);
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  size_t b = 0;
  while (b < bounds_.size() && v > bounds_[b]) ++b;
  ++counts_[b];
  sum_ += v;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name) const {
  int64_t cumulative = 0;
  for (size_t b = 0; b < bounds_.size(); ++b) {
    cumulative += counts_[b];
    sample(out, name + "_bucket", double(cumulative), "le=\"" + num(bounds_[b]) + "\"");
  }
  sample(out, name + "_bucket", double(count_), "le=\"+Inf\"");
  sample(out, name + "_sum", sum_);
  sample(out, name + "_count", double(count_));
}

// Buckets as vLLM's: first tokens from milliseconds (tiny prompts) to over a minute (long queues),
// inter-token times from 1 ms to 10 s, whole requests from 50 ms to 10 minutes.
ServerMetrics::ServerMetrics()
    : ttft_({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
             10.0, 20.0, 40.0, 80.0}),
      tpot_({0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
             5.0, 10.0}),
      latency_({0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0,
                600.0}) {}

void ServerMetrics::observe_time_to_first_token(double s) {
  std::lock_guard<std::mutex> lock(mu_);
  ttft_.observe(s);
}

void ServerMetrics::observe_time_per_output_token(double s) {
  std::lock_guard<std::mutex> lock(mu_);
  tpot_.observe(s);
}

void ServerMetrics::observe_request_latency(double s) {
  std::lock_guard<std::mutex> lock(mu_);
  latency_.observe(s);
}

void ServerMetrics::add_prompt_tokens(int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  prompt_tokens_ += n;
}

void ServerMetrics::add_generation_tokens(int64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  generation_tokens_ += n;
}

void ServerMetrics::count_finished(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++finished_[reason];
}

void ServerMetrics::set_engine(const EngineMetrics& m, int64_t queued) {
  std::lock_guard<std::mutex> lock(mu_);
  engine_ = m;
  queued_ = queued;
}

void ServerMetrics::count_error(int status) {
  std::lock_guard<std::mutex> lock(mu_);
  ++errors_[status];
}

std::string ServerMetrics::render() const {
  std::lock_guard<std::mutex> lock(mu_);
  const EngineMetrics& e = engine_;
  std::string out;
  gauge(out, "pagedkv_num_requests_running", "Requests with a sample running in the engine.",
        double(e.running_requests));
  gauge(out, "pagedkv_num_requests_waiting",
        "Requests waiting: queued for the engine thread, not admitted yet, or preempted.",
        double(e.waiting_requests + queued_));
  family(out, "pagedkv_requests_finished_total", "counter",
         "Requests finished, by reason (abort: cancelled, e.g. the client disconnected).");
  for (const char* reason : {"stop", "length", "abort", "error"}) {
    const auto it = finished_.find(reason);
    sample(out, "pagedkv_requests_finished_total", double(it == finished_.end() ? 0 : it->second),
           std::string("finished_reason=\"") + reason + "\"");
  }
  family(
      out, "pagedkv_request_errors_total", "counter",
      "Error responses by HTTP status (400 bad request, 404, 413 body too large, 503 overloaded).");
  for (int status : {400, 404, 413, 500, 503}) {
    const auto it = errors_.find(status);
    sample(out, "pagedkv_request_errors_total", double(it == errors_.end() ? 0 : it->second),
           "code=\"" + std::to_string(status) + "\"");
  }
  gauge(out, "pagedkv_kv_blocks_total", "KV blocks in the pool (summed over layer groups).",
        double(e.blocks_total));
  gauge(out, "pagedkv_kv_blocks_used", "KV blocks held by sequences.", double(e.blocks_used));
  gauge(out, "pagedkv_kv_blocks_free", "KV blocks free (cached ones included: reusable).",
        double(e.blocks_free));
  gauge(out, "pagedkv_kv_blocks_cached", "KV blocks in the prefix cache (in use or free).",
        double(e.blocks_cached));
  gauge(out, "pagedkv_kv_blocks_used_peak", "Most KV blocks held at once since start.",
        double(e.peak_blocks_used));
  gauge(out, "pagedkv_kv_bytes_used", "Bytes of K/V held by sequences.", double(e.bytes_used));
  counter(out, "pagedkv_prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.",
          double(e.prefix_query_tokens));
  counter(out, "pagedkv_prefix_cache_hits_total", "Prompt tokens served from the prefix cache.",
          double(e.prefix_hit_tokens));
  gauge(out, "pagedkv_prefix_cache_hit_rate", "Prefix cache hit tokens / query tokens.",
        e.prefix_hit_rate);
  counter(out, "pagedkv_prefix_cache_evictions_total", "Cached blocks evicted to be reused.",
          double(e.evictions));
  counter(out, "pagedkv_preemptions_total", "Requests preempted (recomputed later) for memory.",
          double(e.preemptions));
  counter(out, "pagedkv_prompt_tokens_total", "Prompt tokens of accepted requests.",
          double(prompt_tokens_));
  counter(out, "pagedkv_generation_tokens_total", "Tokens generated (all samples).",
          double(generation_tokens_));
  counter(out, "pagedkv_prefill_tokens_computed_total",
          "Prompt tokens the model computed (prefix-cache hits excluded).",
          double(e.prefill_tokens));
  counter(out, "pagedkv_engine_steps_total", "Engine steps.", double(e.steps));
  family(out, "pagedkv_time_to_first_token_seconds", "histogram",
         "From the request's arrival to its first generated token.");
  ttft_.render(out, "pagedkv_time_to_first_token_seconds");
  family(out, "pagedkv_time_per_output_token_seconds", "histogram",
         "Time between consecutive tokens of a sample.");
  tpot_.render(out, "pagedkv_time_per_output_token_seconds");
  family(out, "pagedkv_e2e_request_latency_seconds", "histogram",
         "From the request's arrival to its end (finished or cancelled).");
  latency_.render(out, "pagedkv_e2e_request_latency_seconds");
  return out;
}

}  // namespace pagedkv
