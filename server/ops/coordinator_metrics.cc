#include "server/ops/coordinator_metrics.h"

#include <chrono>

#include "common/metrics/metric_buckets.h"
#include "common/metrics/process_metrics.h"

namespace sluice {
namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

prometheus::Histogram& NewHistogram(prometheus::Registry& r, const std::string& name,
                                    const std::string& help, const prometheus::Labels& labels) {
  return prometheus::BuildHistogram().Name(name).Help(help).Register(r).Add(
      labels, prometheus::Histogram::BucketBoundaries(metrics::QueueSecondsBuckets()));
}

LatencyHistogram Read(const prometheus::Histogram& h) {
  prometheus::ClientMetric m = h.Collect();
  LatencyHistogram out;
  out.count = m.histogram.sample_count;
  out.sum_seconds = m.histogram.sample_sum;
  for (const auto& b : m.histogram.bucket) out.buckets.emplace_back(b.upper_bound, b.cumulative_count);
  return out;
}

}  // namespace

CoordinatorMetrics::CoordinatorMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      claim_(NewHistogram(*registry_, "sluice_claim_duration_seconds",
                          "One claim of a LeaseTasks call from the ready index (long-poll sleeps "
                          "excluded).",
                          {})),
      commit_ok_(prometheus::BuildHistogram()
                     .Name("sluice_commit_duration_seconds")
                     .Help("One Complete/CompleteMany call until its group commit is durable, by "
                           "outcome.")
                     .Register(*registry_)
                     .Add({{"outcome", "ok"}}, prometheus::Histogram::BucketBoundaries(
                                                   metrics::QueueSecondsBuckets()))),
      commit_error_(prometheus::BuildHistogram()
                        .Name("sluice_commit_duration_seconds")
                        .Help("One Complete/CompleteMany call until its group commit is durable, "
                              "by outcome.")
                        .Register(*registry_)
                        .Add({{"outcome", "error"}}, prometheus::Histogram::BucketBoundaries(
                                                         metrics::QueueSecondsBuckets()))),
      upstream_(*registry_, "sluice_upstream_request_duration_seconds"),
      grpc_(*registry_) {}

void CoordinatorMetrics::Claimed(Duration took, size_t) { claim_.Observe(Seconds(took)); }

void CoordinatorMetrics::Committed(Duration took, size_t, bool ok) {
  (ok ? commit_ok_ : commit_error_).Observe(Seconds(took));
}

void CoordinatorMetrics::ObserveReports(const std::vector<throttle::Observation>& observations) {
  for (const throttle::Observation& o : observations) {
    // Both ages were taken at one instant on the agent's monotonic clock:
    // their difference is how long the call took, whatever the clocks say.
    if (!o.sent_age || !o.response_age || *o.response_age > *o.sent_age) continue;
    upstream_.Observe(throttle::UpstreamName(o.key.upstream), o.key.route, o.status, o.headers,
                      Seconds(*o.sent_age - *o.response_age));
  }
}

LatencyHistogram CoordinatorMetrics::claim_latency() const { return Read(claim_); }

LatencyHistogram CoordinatorMetrics::commit_latency() const { return Read(commit_ok_); }

std::vector<std::shared_ptr<const prometheus::Collectable>> CoordinatorMetrics::Collectables()
    const {
  return {registry_, std::make_shared<metrics::ProcessMetrics>(),
          std::make_shared<metrics::BuildInfo>()};
}

}  // namespace sluice
