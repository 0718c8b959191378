// The metrics pieces every binary shares (common/metrics/): the text
// exposition of histograms and labels as Prometheus parses it, the process
// families read from /proc, the upstream call histogram's grouping and its
// bounds, gRPC method names, and the ops listener over real HTTP.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include "common/metrics/function_collectable.h"
#include "common/metrics/grpc_server_metrics.h"
#include "common/metrics/metric_buckets.h"
#include "common/metrics/ops_listener.h"
#include "common/metrics/process_metrics.h"
#include "common/metrics/upstream_call_metrics.h"

namespace sluice::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Render(std::shared_ptr<prometheus::Registry> r) { return RenderMetrics({r}); }

TEST(HistogramTextTest, BucketsAreCumulativeEndWithInfAndCarrySumAndCount) {
  auto r = std::make_shared<prometheus::Registry>();
  auto& h = prometheus::BuildHistogram().Name("t_seconds").Help("h").Register(*r).Add(
      {}, prometheus::Histogram::BucketBoundaries{0.1, 1, 10});
  // One observation per bucket and one past the last bound.
  for (double v : {0.05, 0.5, 5.0, 50.0}) h.Observe(v);
  // A value equal to a bound belongs to that bound's bucket (le = "less or equal").
  h.Observe(1);
  const std::string text = Render(r);
  EXPECT_THAT(text, HasSubstr("# TYPE t_seconds histogram\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_bucket{le=\"0.1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_bucket{le=\"1\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_bucket{le=\"10\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_bucket{le=\"+Inf\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_count 5\n"));
  EXPECT_THAT(text, HasSubstr("t_seconds_sum 56.55\n"));
}

TEST(HistogramTextTest, EveryBucketSetIsSortedAndBounded) {
  for (const auto* b : {&UpstreamSecondsBuckets(), &QueueSecondsBuckets(), &RpcSecondsBuckets(),
                        &WaitSecondsBuckets()}) {
    ASSERT_FALSE(b->empty());
    EXPECT_LE(b->size(), 15u);
    EXPECT_TRUE(std::is_sorted(b->begin(), b->end()));
    EXPECT_EQ(std::adjacent_find(b->begin(), b->end()), b->end()) << "a bound repeats";
  }
  // The agents' request timeout (30 s) is the last upstream bound, so a call
  // that timed out is still in a bucket below +Inf.
  EXPECT_EQ(UpstreamSecondsBuckets().back(), 30);
}

TEST(LabelTextTest, QuotesBackslashesAndNewlinesAreEscaped) {
  auto r = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name("t_total").Help("c").Register(*r).Add({{"v", "a\"b\\c\nd"}}).Increment();
  EXPECT_THAT(Render(r), HasSubstr("t_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"));
}

TEST(ProcStatTest, ParsesFieldsAfterACommandNameWithSpacesAndParentheses) {
  // Fields as /proc/<pid>/stat writes them; comm "(a) b" is the trap.
  const std::string stat =
      "4242 ((a) b) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 7 0 1000 "
      "123456789 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
  auto s = ParseProcStat(stat, 1700000000, 100, 4096);
  ASSERT_TRUE(s.has_value());
  EXPECT_DOUBLE_EQ(s->cpu_seconds, 4.0);  // (250 + 150) ticks / 100
  EXPECT_DOUBLE_EQ(s->threads, 7);
  EXPECT_DOUBLE_EQ(s->start_time_seconds, 1700000010);  // boot + 1000 / 100
  EXPECT_DOUBLE_EQ(s->virtual_bytes, 123456789);
  EXPECT_DOUBLE_EQ(s->resident_bytes, 300 * 4096.0);
  EXPECT_FALSE(ParseProcStat("not a stat line", 0, 100, 4096).has_value());
  EXPECT_FALSE(ParseProcStat("1 (x) S 1 2", 0, 100, 4096).has_value());
}

TEST(ProcessMetricsTest, ThisProcessHasPlausibleFigures) {
  const std::string text = RenderMetrics({std::make_shared<ProcessMetrics>()});
  EXPECT_THAT(text, HasSubstr("# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_THAT(text, HasSubstr("process_resident_memory_bytes "));
  EXPECT_THAT(text, HasSubstr("process_open_fds "));
  EXPECT_THAT(text, HasSubstr("process_max_fds "));
  // Started within the last day, not before it (boot time + ticks are right).
  const auto pos = text.find("\nprocess_start_time_seconds ");
  ASSERT_NE(pos, std::string::npos);
  const double start = std::stod(text.substr(pos + 28));
  const double now = static_cast<double>(time(nullptr));
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 86400);
}

TEST(BuildInfoTest, NamesVersionAndCommit) {
  const std::string text = RenderMetrics({std::make_shared<BuildInfo>()});
  EXPECT_THAT(text, HasSubstr("sluice_build_info{commit=\""));
  EXPECT_THAT(text, HasSubstr(std::string("version=\"") + SLUICE_VERSION + "\"} 1\n"));
}

TEST(UpstreamCallMetricsTest, StatusClasses) {
  EXPECT_EQ(UpstreamCallMetrics::StatusClass(0), "failed");
  EXPECT_EQ(UpstreamCallMetrics::StatusClass(200), "2xx");
  EXPECT_EQ(UpstreamCallMetrics::StatusClass(304), "3xx");
  EXPECT_EQ(UpstreamCallMetrics::StatusClass(404), "4xx");
  EXPECT_EQ(UpstreamCallMetrics::StatusClass(420), "rate_limited");
  EXPECT_EQ(UpstreamCallMetrics::StatusClass(429), "rate_limited");
  EXPECT_EQ(UpstreamCallMetrics::StatusClass(503), "5xx");
}

TEST(UpstreamCallMetricsTest, AnAnswerWithoutGroupCountsInTheGroupItsRouteLastNamed) {
  auto r = std::make_shared<prometheus::Registry>();
  UpstreamCallMetrics m(*r, "u_seconds");
  m.Observe("esi", "/characters/{id}/", 200, {{"x-ratelimit-group", "char-detail"}}, 0.2);
  m.Observe("esi", "/characters/{id}/", 0, {}, 5);    // transport failure: no headers
  m.Observe("esi", "/status/", 200, {}, 0.01);        // never named a group
  m.Observe("poe", "/public-stash-tabs", 200, {{"X-Rate-Limit-Policy", "stash-request-limit"}}, 1);
  const std::string text = Render(r);
  EXPECT_THAT(text, HasSubstr(
      "u_seconds_count{group=\"char-detail\",status_class=\"2xx\",upstream=\"esi\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(
      "u_seconds_count{group=\"char-detail\",status_class=\"failed\",upstream=\"esi\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(
      "u_seconds_count{group=\"none\",status_class=\"2xx\",upstream=\"esi\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(
      "u_seconds_count{group=\"stash-request-limit\",status_class=\"2xx\",upstream=\"poe\"} 1\n"));
}

TEST(UpstreamCallMetricsTest, GroupsBeyondTheCapAreCountedAsOther) {
  auto r = std::make_shared<prometheus::Registry>();
  UpstreamCallMetrics m(*r, "u_seconds");
  for (size_t i = 0; i < UpstreamCallMetrics::kMaxGroups + 10; ++i) {
    m.Observe("esi", "/r" + std::to_string(i), 200, {{"X-Ratelimit-Group", "g" + std::to_string(i)}},
              0.1);
  }
  const std::string text = Render(r);
  EXPECT_THAT(text, HasSubstr("group=\"g63\""));
  EXPECT_THAT(text, Not(HasSubstr("group=\"g64\"")));
  EXPECT_THAT(text, HasSubstr(
      "u_seconds_count{group=\"other\",status_class=\"2xx\",upstream=\"esi\"} 10\n"));
}

TEST(GrpcServerMetricsTest, SplitsFullMethodNamesAndNamesCodes) {
  EXPECT_EQ(GrpcServerMetrics::SplitMethod("/sluice.v1.AgentService/LeaseTasks"),
            std::make_pair(std::string("sluice.v1.AgentService"), std::string("LeaseTasks")));
  EXPECT_EQ(GrpcServerMetrics::SplitMethod("odd"), std::make_pair(std::string("unknown"),
                                                                  std::string("odd")));
  EXPECT_STREQ(GrpcServerMetrics::CodeName(grpc::StatusCode::OK), "OK");
  EXPECT_STREQ(GrpcServerMetrics::CodeName(grpc::StatusCode::UNAVAILABLE), "Unavailable");
}

TEST(GrpcServerMetricsTest, CountsCallsByMethodAndCodeWithTheirDuration) {
  auto r = std::make_shared<prometheus::Registry>();
  GrpcServerMetrics m(*r);
  m.Started("/sluice.v1.AgentService/LeaseTasks", "unary");
  m.Handled("/sluice.v1.AgentService/LeaseTasks", "unary", grpc::StatusCode::OK, 0.003);
  m.Started("/sluice.v1.AgentService/LeaseTasks", "unary");
  m.Handled("/sluice.v1.AgentService/LeaseTasks", "unary", grpc::StatusCode::UNAVAILABLE, 2);
  const std::string text = Render(r);
  EXPECT_THAT(text, HasSubstr("grpc_server_started_total{grpc_method=\"LeaseTasks\","
                              "grpc_service=\"sluice.v1.AgentService\",grpc_type=\"unary\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handled_total{grpc_code=\"Unavailable\","
                              "grpc_method=\"LeaseTasks\",grpc_service=\"sluice.v1.AgentService\","
                              "grpc_type=\"unary\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handling_seconds_bucket{grpc_method=\"LeaseTasks\","
                              "grpc_service=\"sluice.v1.AgentService\",grpc_type=\"unary\","
                              "le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handling_seconds_count{grpc_method=\"LeaseTasks\","
                              "grpc_service=\"sluice.v1.AgentService\",grpc_type=\"unary\"} 2\n"));
}

TEST(GrpcServerMetricsTest, SeriesFoundByANameAddressFollowTheNameNotTheAddress) {
  auto r = std::make_shared<prometheus::Registry>();
  GrpcServerMetrics m(*r);
  // One buffer holding one method's name, then another's: the address is
  // the same, the series must not be.
  char name[64] = "/sluice.v1.ThrottlerService/NextPermitted";
  GrpcServerMetrics::Series* first = m.SeriesFor(name, "unary");
  EXPECT_EQ(m.SeriesFor(name, "unary"), first);
  first->Started();
  first->Handled(grpc::StatusCode::OK, 0.001);
  std::snprintf(name, sizeof(name), "%s", "/sluice.v1.ThrottlerService/Acquire");
  GrpcServerMetrics::Series* second = m.SeriesFor(name, "unary");
  EXPECT_NE(second, first);
  second->Started();
  second->Handled(grpc::StatusCode::PERMISSION_DENIED, 0.001);
  // The same name at another address, and by name: the same series.
  const std::string copy = "/sluice.v1.ThrottlerService/NextPermitted";
  EXPECT_EQ(m.SeriesFor(copy.c_str(), "unary"), first);
  m.Started(copy, "unary");
  const std::string text = Render(r);
  EXPECT_THAT(text, HasSubstr("grpc_server_started_total{grpc_method=\"NextPermitted\","
                              "grpc_service=\"sluice.v1.ThrottlerService\","
                              "grpc_type=\"unary\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handled_total{grpc_code=\"PermissionDenied\","
                              "grpc_method=\"Acquire\",grpc_service=\"sluice.v1.ThrottlerService\","
                              "grpc_type=\"unary\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("grpc_server_handled_total{grpc_code=\"OK\","
                              "grpc_method=\"NextPermitted\","
                              "grpc_service=\"sluice.v1.ThrottlerService\","
                              "grpc_type=\"unary\"} 1\n"));
}

TEST(GrpcServerMetricsTest, MadeUpMethodsPastTheCapAreCountedAsOther) {
  auto r = std::make_shared<prometheus::Registry>();
  GrpcServerMetrics m(*r);
  for (size_t i = 0; i < GrpcServerMetrics::kMaxMethods + 5; ++i) {
    m.Started("/x.Y/M" + std::to_string(i), "unary");
    m.Handled("/x.Y/M" + std::to_string(i), "unary", grpc::StatusCode::UNIMPLEMENTED, 0.001);
  }
  // A method seen before the cap keeps its own series.
  m.Started("/x.Y/M0", "unary");
  const std::string text = Render(r);
  EXPECT_THAT(text, HasSubstr("grpc_server_started_total{grpc_method=\"M0\",grpc_service=\"x.Y\","
                              "grpc_type=\"unary\"} 2\n"));
  EXPECT_THAT(text, Not(HasSubstr("grpc_method=\"M256\"")));
  EXPECT_THAT(text, HasSubstr("grpc_server_started_total{grpc_method=\"other\","
                              "grpc_service=\"other\",grpc_type=\"unary\"} 5\n"));
}

TEST(OpsListenerTest, ServesMetricsHealthAndOwnRoutesAndGatesAllButProbes) {
  auto r = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name("t_total").Help("c").Register(*r).Add({}).Increment(3);
  OpsListener ops;
  ops.AddMetrics(r);
  ops.AddMetrics(std::make_shared<FunctionCollectable>([] {
    prometheus::MetricFamily f;
    f.name = "t_live";
    f.help = "read at scrape";
    f.type = prometheus::MetricType::Gauge;
    f.metric.emplace_back();
    f.metric.back().gauge.value = 7;
    return std::vector<prometheus::MetricFamily>{f};
  }));
  ops.Get("/extra", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("extra", "text/plain");
  });
  ops.RequireAuthorization([](const std::string& h) { return h == "Bearer good"; });
  auto port = ops.Start("127.0.0.1:0", "test ops listener");
  ASSERT_TRUE(port.ok()) << port.status();
  httplib::Client http("127.0.0.1", *port);
  EXPECT_EQ(http.Get("/healthz")->status, 200);
  EXPECT_EQ(http.Get("/metrics")->status, 401);
  httplib::Headers auth = {{"Authorization", "Bearer good"}};
  auto metrics = http.Get("/metrics", auth);
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->get_header_value("Content-Type"), HasSubstr("version=0.0.4"));
  EXPECT_THAT(metrics->body, HasSubstr("t_total 3\n"));
  EXPECT_THAT(metrics->body, HasSubstr("t_live 7\n"));
  EXPECT_EQ(http.Get("/extra", auth)->body, "extra");
  ops.Stop();
}

TEST(OpsListenerTest, RefusesAddressesThatAreNotHostPort) {
  OpsListener ops;
  EXPECT_FALSE(ops.Start("9090", "x").ok());
  EXPECT_FALSE(ops.Start("127.0.0.1:http", "x").ok());
  EXPECT_FALSE(ops.Start("127.0.0.1:70000", "x").ok());
}

}  // namespace
}  // namespace sluice::metrics
