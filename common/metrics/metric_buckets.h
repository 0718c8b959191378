// The bucket bounds of Sluice's histograms (seconds), one set per measured
// range, so every histogram of a kind has the same buckets and a Grafana
// histogram_quantile() over several processes adds up. Bounded: each set has
// at most 15 buckets (plus +Inf), whatever the labels.
//
//   kUpstreamSeconds  an upstream HTTP call, connect to last byte: under a
//                     millisecond on the simulator's loopback (0.4 ms mean in
//                     MetricsLive), tens to hundreds on ESI and PoE, up to the
//                     agents' 30 s request timeout.
//   kQueueSeconds     one claim from the in-memory ready index (well under a
//                     millisecond) or one group commit (a few milliseconds
//                     to a second when PostgreSQL is busy).
//   kRpcSeconds       a gRPC call as the server handles it: from a token
//                     lease (0.04 ms mean in MetricsLive) to a long-polling
//                     LeaseTasks (seconds) and a stream that lasts minutes.
//   kWaitSeconds      an agent's wait for a rate token: nothing when its
//                     ledger has one, up to a budget's whole window.
//
// Plain constants; no thread-safety concerns.
#ifndef SLUICE_COMMON_METRICS_METRIC_BUCKETS_H_
#define SLUICE_COMMON_METRICS_METRIC_BUCKETS_H_

#include <vector>

namespace sluice::metrics {

inline const std::vector<double>& UpstreamSecondsBuckets() {
  static const std::vector<double> b = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,  0.5,    1,     2.5,  5,     10,   30};
  return b;
}

inline const std::vector<double>& QueueSecondsBuckets() {
  static const std::vector<double> b = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                        0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
  return b;
}

inline const std::vector<double>& RpcSecondsBuckets() {
  static const std::vector<double> b = {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1,
                                        0.25,   0.5,    1,     2.5,    5,     10,   30};
  return b;
}

inline const std::vector<double>& WaitSecondsBuckets() {
  static const std::vector<double> b = {0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                        5,     10,   30,   60,  300,  900};
  return b;
}

}  // namespace sluice::metrics

#endif  // SLUICE_COMMON_METRICS_METRIC_BUCKETS_H_
