// What an agent's /metrics shows (agent/ops/agent_metrics.h): its upstream
// calls by group and status class with their durations, its waits for rate
// tokens, and its own counters read at each scrape.
#include "agent/ops/agent_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/metrics/ops_listener.h"

namespace sluice::agent {
namespace {

using ::testing::HasSubstr;

TEST(AgentMetricsTest, UpstreamCallsAreTimedFromSendToAnswerByGroupAndStatusClass) {
  AgentMetrics m;
  UpstreamObservation o;
  o.route = Route{"esi", "/characters/{id}/", "char:1"};
  o.status = 200;
  o.headers.Add("X-Ratelimit-Group", "char-detail");
  o.headers.Add("Set-Cookie", "not forwarded, not looked at");
  o.sent_at = std::chrono::steady_clock::time_point(std::chrono::milliseconds(1000));
  o.received_at = o.sent_at + std::chrono::milliseconds(40);
  m.UpstreamCall(o);
  o.status = 0;  // no answer: counted in the group the route named before
  o.headers = HeaderMap();
  o.received_at = o.sent_at + std::chrono::seconds(31);
  m.UpstreamCall(o);
  m.TokenWait(std::chrono::milliseconds(3), true);
  m.SetStatsSource([] {
    AgentStats s;
    s.tasks_done = 5;
    s.tasks_failed = 2;
    s.leases_held = 7;
    return s;
  });
  const std::string text = metrics::RenderMetrics(m.Collectables());
  const std::string ok = "group=\"char-detail\",status_class=\"2xx\",upstream=\"esi\"";
  EXPECT_THAT(text, HasSubstr("sluice_agent_upstream_request_duration_seconds_bucket{" + ok +
                              ",le=\"0.025\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("sluice_agent_upstream_request_duration_seconds_bucket{" + ok +
                              ",le=\"0.05\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("sluice_agent_upstream_request_duration_seconds_sum{" + ok +
                              "} 0.04\n"));
  // Past the last bound (30 s): only +Inf holds it.
  const std::string failed = "group=\"char-detail\",status_class=\"failed\",upstream=\"esi\"";
  EXPECT_THAT(text, HasSubstr("sluice_agent_upstream_request_duration_seconds_bucket{" + failed +
                              ",le=\"30\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("sluice_agent_upstream_request_duration_seconds_bucket{" + failed +
                              ",le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("sluice_agent_token_wait_seconds_count{outcome=\"granted\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("sluice_agent_token_wait_seconds_count{outcome=\"refused\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("sluice_agent_tasks_done_total 5\n"));
  EXPECT_THAT(text, HasSubstr("sluice_agent_tasks_failed_total 2\n"));
  EXPECT_THAT(text, HasSubstr("sluice_agent_leases_held 7\n"));
  EXPECT_THAT(text, HasSubstr("process_open_fds "));
  EXPECT_THAT(text, HasSubstr("sluice_build_info{"));
}

}  // namespace
}  // namespace sluice::agent
