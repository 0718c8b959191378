// OpsHttpServer is the coordinator's operations listener (the one every
// binary shares, common/metrics/ops_listener.h, with the coordinator's routes
// added), apart from gRPC so
// that Prometheus, kubelet probes and a browser need no gRPC:
//   GET /metrics         Prometheus text: the snapshot's families (ops_metrics.h)
//                        then those added (histograms, process_*, build info)
//   GET /api/ops         the same as JSON, for the dashboard
//   GET /api/ops/history the dashboard's charts: samples of the snapshot
//                        (ops_history.h) after ?since=<unix seconds>
//   GET /healthz         200 while the process serves (liveness)
//   GET /readyz          200 when ready, else 503 (readiness): the Readiness
//                        check alone (a leader's database ping; a standby is
//                        ready), never the snapshot, whose queries (the
//                        dashboard's panels among them) a probe every few
//                        seconds has no use for
//   GET /                the dashboard (dashboard.js, dashboard.css beside it,
//                        embedded: dashboard_assets.h), which polls the two above
//
// With RequireAuthorization, every path but /healthz and /readyz (kubelet
// probes carry no credential) needs an `Authorization: Bearer <token>` header
// the gate accepts (the coordinator's: a credential with the operator role);
// otherwise 401.
//
// Ownership: borrows everything; it must be stopped before they go.
// Thread-safety: Start/Stop from one thread; requests are served on the
// listener's own threads.
#ifndef SLUICE_SERVER_OPS_OPS_HTTP_SERVER_H_
#define SLUICE_SERVER_OPS_OPS_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "server/ops/ops_history.h"
#include "server/ops/ops_snapshot.h"

namespace sluice::metrics {
class OpsListener;
}

namespace prometheus {
class Collectable;
}

namespace sluice {

class OpsHttpServer {
 public:
  using Collector = std::function<OpsSnapshot()>;
  // What /readyz answers, and why not when not ready.
  struct Readiness {
    bool ready = true;
    std::string detail;  // the reason when not ready
  };
  using ReadinessCheck = std::function<Readiness()>;
  // Whether an Authorization header value may see the listener's pages.
  using Gate = std::function<bool(const std::string& authorization)>;

  OpsHttpServer(Collector collect, ReadinessCheck ready);
  ~OpsHttpServer();
  OpsHttpServer(const OpsHttpServer&) = delete;
  OpsHttpServer& operator=(const OpsHttpServer&) = delete;

  // Before Start: paths other than the probes need a header `gate` accepts.
  void RequireAuthorization(Gate gate) { gate_ = std::move(gate); }
  // Before Start: rendered at /metrics after the snapshot's families
  // (ops_metrics.h): live histograms, process_*, build info.
  void AddMetrics(std::shared_ptr<const prometheus::Collectable> c) {
    metrics_.push_back(std::move(c));
  }
  // Before Start: where /api/ops/history reads (borrowed); without one it
  // answers with no points.
  void ServeHistory(const OpsHistory* history) { history_ = history; }

  // "host:port"; port 0 picks a free one. Returns the bound port.
  absl::StatusOr<int> Start(const std::string& listen);
  void Stop();

 private:
  Collector collect_;
  ReadinessCheck ready_;
  Gate gate_;
  std::vector<std::shared_ptr<const prometheus::Collectable>> metrics_;
  const OpsHistory* history_ = nullptr;
  std::unique_ptr<metrics::OpsListener> listener_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_OPS_OPS_HTTP_SERVER_H_
