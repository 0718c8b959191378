#include "agent/ops/agent_metrics.h"

#include "agent/throttle/rate_limit_headers.h"
#include "common/metrics/function_collectable.h"
#include "common/metrics/metric_buckets.h"
#include "common/metrics/process_metrics.h"

namespace sluice::agent {
namespace {

prometheus::Histogram& WaitHistogram(prometheus::Registry& r, const std::string& outcome) {
  return prometheus::BuildHistogram()
      .Name("sluice_agent_token_wait_seconds")
      .Help("A worker's wait for a rate token before its upstream call, by outcome.")
      .Register(r)
      .Add({{"outcome", outcome}},
           prometheus::Histogram::BucketBoundaries(metrics::WaitSecondsBuckets()));
}

std::vector<prometheus::MetricFamily> StatsFamilies(const AgentStats& s) {
  using T = prometheus::MetricType;
  auto c = [](const char* name, const char* help, int64_t v) {
    return metrics::SingleValueFamily(name, help, static_cast<double>(v), T::Counter);
  };
  return {
      c("sluice_agent_tasks_leased_total", "Tasks leased from the coordinator.", s.tasks_leased),
      c("sluice_agent_tasks_done_total",
        "Tasks the coordinator accepted as complete (304s included).", s.tasks_done),
      c("sluice_agent_tasks_not_modified_total", "Tasks answered 304 Not Modified.",
        s.not_modified),
      c("sluice_agent_tasks_failed_total", "Tasks reported failed after an upstream attempt.",
        s.tasks_failed),
      c("sluice_agent_tasks_failed_permanent_total", "Of the failed, those failed for good.",
        s.tasks_failed_permanent),
      c("sluice_agent_tasks_released_total", "Tasks given back without an upstream call.",
        s.tasks_released),
      c("sluice_agent_tasks_deferred_total", "Tasks given back because their budget had no room.",
        s.tasks_deferred),
      c("sluice_agent_leases_lost_total",
        "Results or extensions refused: the lease was superseded.", s.leases_lost),
      c("sluice_agent_complete_calls_total", "CompleteTasks calls to the coordinator.",
        s.complete_calls),
      c("sluice_agent_bad_bodies_total", "2xx answers the handler could not use.", s.bad_bodies),
      c("sluice_agent_inconsistent_reads_total",
        "Paged reads whose pages came from two versions of the list, read twice or not yet "
        "readable again (agent/handlers/esi_pages.h).",
        s.inconsistent_reads),
      c("sluice_agent_rate_limited_total", "420/429 answers.", s.rate_limited),
      c("sluice_agent_report_errors_total", "Results the coordinator never acknowledged.",
        s.report_errors),
      c("sluice_agent_lease_errors_total", "Failed LeaseTasks calls.", s.lease_errors),
      metrics::SingleValueFamily("sluice_agent_leases_held", "Task leases held now.",
                                 static_cast<double>(s.leases_held)),
  };
}

}  // namespace

AgentMetrics::AgentMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      upstream_(*registry_, "sluice_agent_upstream_request_duration_seconds"),
      wait_granted_(WaitHistogram(*registry_, "granted")),
      wait_refused_(WaitHistogram(*registry_, "refused")) {}

void AgentMetrics::UpstreamCall(const UpstreamObservation& o) {
  upstream_.Observe(o.route.upstream, o.route.path_template, o.status,
                    ForwardedRateLimitHeaders(o.headers),
                    std::chrono::duration<double>(o.received_at - o.sent_at).count());
}

void AgentMetrics::TokenWait(std::chrono::steady_clock::duration waited, bool granted) {
  (granted ? wait_granted_ : wait_refused_).Observe(std::chrono::duration<double>(waited).count());
}

std::vector<std::shared_ptr<const prometheus::Collectable>> AgentMetrics::Collectables() const {
  auto stats = std::make_shared<metrics::FunctionCollectable>(
      [this] { return stats_ ? StatsFamilies(stats_()) : StatsFamilies(AgentStats{}); });
  return {registry_, stats, std::make_shared<metrics::ProcessMetrics>(),
          std::make_shared<metrics::BuildInfo>()};
}

}  // namespace sluice::agent
