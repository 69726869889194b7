// The Prometheus text exposition of /metrics: every sample belongs to a family declared with
// # HELP and # TYPE, counters end in _total, histograms have cumulative buckets ending in +Inf
// plus _sum and _count, and the values are the ones recorded.

#include "server/server_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>

namespace pagedkv {
namespace {

// name{labels} -> value, and family -> type, from an exposition.
struct Parsed {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;
  std::set<std::string> helps;
};

Parsed parse(const std::string& text) {
  Parsed p;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      p.helps.insert(line.substr(7, line.find(' ', 7) - 7));
    } else if (line.rfind("# TYPE ", 0) == 0) {
      const size_t sp = line.find(' ', 7);
      p.types[line.substr(7, sp - 7)] = line.substr(sp + 1);
    } else if (!line.empty()) {
      const size_t sp = line.rfind(' ');
      p.samples[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
    }
  }
  return p;
}

std::string family_of(const std::string& sample, const Parsed& p) {
  std::string name = sample.substr(0, sample.find('{'));
  if (p.types.count(name)) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      const std::string base = name.substr(0, name.size() - s.size());
      if (p.types.count(base) && p.types.at(base) == "histogram") return base;
    }
  }
  return "";
}

TEST(Histogram, CumulativeBucketsSumAndCount) {
  Histogram h({0.1, 1.0});
  for (double v : {0.05, 0.1, 0.5, 2.0, 3.0}) h.observe(v);
  std::string out;
  h.render(out, "x");
  EXPECT_EQ(out,
            "x_bucket{le=\"0.1\"} 2\n"
            "x_bucket{le=\"1\"} 3\n"
            "x_bucket{le=\"+Inf\"} 5\n"
            "x_sum 5.65\n"
            "x_count 5\n");
}

TEST(ServerMetrics, ExpositionFormatAndValues) {
  ServerMetrics m;
  EngineMetrics e;
  e.blocks_total = 512;
  e.blocks_used = 40;
  e.blocks_free = 472;
  e.blocks_cached = 30;
  e.prefix_query_tokens = 1000;
  e.prefix_hit_tokens = 750;
  e.prefix_hit_rate = 0.75;
  e.preemptions = 3;
  e.running_requests = 5;
  e.waiting_requests = 2;
  m.set_engine(e, 4);
  m.add_prompt_tokens(100);
  m.add_generation_tokens(42);
  m.count_finished("stop");
  m.count_finished("abort");
  m.count_finished("abort");
  m.count_error(503);
  m.observe_time_to_first_token(0.03);
  m.observe_time_per_output_token(0.002);
  m.observe_time_per_output_token(0.2);
  m.observe_request_latency(1.5);
  const Parsed p = parse(m.render());

  for (const auto& [sample, value] : p.samples) {
    const std::string fam = family_of(sample, p);
    ASSERT_FALSE(fam.empty()) << sample << " has no # TYPE";
    EXPECT_TRUE(p.helps.count(fam)) << fam << " has no # HELP";
    if (p.types.at(fam) == "counter") {
      EXPECT_EQ(fam.substr(fam.size() - 6), "_total") << fam;
    }
  }
  EXPECT_EQ(p.samples.at("pagedkv_num_requests_running"), 5);
  EXPECT_EQ(p.samples.at("pagedkv_num_requests_waiting"), 6) << "engine waiting + handed over";
  EXPECT_EQ(p.samples.at("pagedkv_requests_finished_total{finished_reason=\"abort\"}"), 2);
  EXPECT_EQ(p.samples.at("pagedkv_requests_finished_total{finished_reason=\"length\"}"), 0);
  EXPECT_EQ(p.samples.at("pagedkv_request_errors_total{code=\"503\"}"), 1);
  EXPECT_EQ(p.samples.at("pagedkv_kv_blocks_used"), 40);
  EXPECT_EQ(p.samples.at("pagedkv_kv_blocks_free"), 472);
  EXPECT_EQ(p.samples.at("pagedkv_kv_blocks_cached"), 30);
  EXPECT_EQ(p.samples.at("pagedkv_prefix_cache_hits_total"), 750);
  EXPECT_EQ(p.samples.at("pagedkv_prefix_cache_queries_total"), 1000);
  EXPECT_DOUBLE_EQ(p.samples.at("pagedkv_prefix_cache_hit_rate"), 0.75);
  EXPECT_EQ(p.samples.at("pagedkv_preemptions_total"), 3);
  EXPECT_EQ(p.samples.at("pagedkv_prompt_tokens_total"), 100);
  EXPECT_EQ(p.samples.at("pagedkv_generation_tokens_total"), 42);
  EXPECT_EQ(p.types.at("pagedkv_time_to_first_token_seconds"), "histogram");
  EXPECT_EQ(p.samples.at("pagedkv_time_to_first_token_seconds_count"), 1);
  EXPECT_EQ(p.samples.at("pagedkv_time_to_first_token_seconds_bucket{le=\"0.04\"}"), 1);
  EXPECT_EQ(p.samples.at("pagedkv_time_to_first_token_seconds_bucket{le=\"0.02\"}"), 0);
  EXPECT_EQ(p.samples.at("pagedkv_time_per_output_token_seconds_count"), 2);
  EXPECT_EQ(p.samples.at("pagedkv_time_per_output_token_seconds_bucket{le=\"+Inf\"}"), 2);
  EXPECT_EQ(p.samples.at("pagedkv_e2e_request_latency_seconds_sum"), 1.5);
}

}  // namespace
}  // namespace pagedkv
