// CoordinatorMetrics holds the coordinator's live metrics, those measured as
// things happen rather than read from the ops snapshot at scrape time:
//   sluice_claim_duration_seconds     one claim from the ready index
//   sluice_commit_duration_seconds    one Complete/CompleteMany to durable
//     (both via QueueObserver; label outcome: ok / error for commits)
//   sluice_upstream_request_duration_seconds{upstream,group,status_class}
//     the upstream calls agents report (ObserveReports; upstream_call_metrics.h)
//   grpc_server_* per method and code (grpc_server_metrics.h: install
//     grpc().MakeInterceptorFactory() on the server's builder); lease-token
//     latency is grpc_server_handling_seconds{grpc_method="LeaseTokens"}
// and the process and build families. Collectables() is what /metrics adds
// after the snapshot's families.
//
// Ownership: owns its registry; the queue, the throttle service and the gRPC
// server it observes must stop calling it before it goes. Thread-safety:
// every method is safe from any thread.
#ifndef SLUICE_SERVER_OPS_COORDINATOR_METRICS_H_
#define SLUICE_SERVER_OPS_COORDINATOR_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <vector>

#include "common/metrics/grpc_server_metrics.h"
#include "common/metrics/upstream_call_metrics.h"
#include "server/queue/queue_observer.h"
#include "server/throttle/throttler.h"

namespace sluice {

// Count, sum and cumulative buckets of one histogram series, for the
// dashboard's charts (the ops snapshot carries the claim and commit ones).
struct LatencyHistogram {
  uint64_t count = 0;
  double sum_seconds = 0;
  std::vector<std::pair<double, uint64_t>> buckets;  // (upper bound, cumulative), +Inf last
};

class CoordinatorMetrics : public QueueObserver {
 public:
  CoordinatorMetrics();

  void Claimed(Duration took, size_t tasks) override;
  void Committed(Duration took, size_t completions, bool ok) override;
  // Agents' observations as ReportBatch delivered them (validated).
  void ObserveReports(const std::vector<throttle::Observation>& observations);

  metrics::GrpcServerMetrics& grpc() { return grpc_; }
  LatencyHistogram claim_latency() const;
  LatencyHistogram commit_latency() const;

  // The registry, the process families and build info.
  std::vector<std::shared_ptr<const prometheus::Collectable>> Collectables() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Histogram& claim_;
  prometheus::Histogram& commit_ok_;
  prometheus::Histogram& commit_error_;
  metrics::UpstreamCallMetrics upstream_;
  metrics::GrpcServerMetrics grpc_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_OPS_COORDINATOR_METRICS_H_
