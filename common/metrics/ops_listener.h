// OpsListener is the one operations HTTP listener of every Sluice binary
// (the coordinator's and the agents' --ops_listen): apart from gRPC, so that
// Prometheus, kubelet probes and a browser need no gRPC client. It serves
//   GET /metrics   Prometheus text (format 0.0.4) of the collectables added
//   GET /healthz   200 while the process serves (liveness)
// and whatever GET routes its owner adds (the coordinator: /readyz, /api/ops,
// the dashboard). The text is prometheus-cpp's TextSerializer over the
// collectables' families, in the order they were added; family names must
// not repeat across collectables.
//
// With RequireAuthorization, every path but /healthz and /readyz (kubelet
// probes carry no credential) needs an `Authorization` header the gate
// accepts; otherwise 401.
//
// Ownership: shares the collectables; borrows what the routes capture (they
// must outlive Stop()). Thread-safety: configure (Get, AddMetrics,
// RequireAuthorization) and Start/Stop from one thread; requests are served
// on the listener's own threads, so collectables must be thread-safe.
#ifndef SLUICE_COMMON_METRICS_OPS_LISTENER_H_
#define SLUICE_COMMON_METRICS_OPS_LISTENER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace prometheus {
class Collectable;
}

namespace sluice::metrics {

class OpsListener {
 public:
  using Gate = std::function<bool(const std::string& authorization)>;
  using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

  OpsListener();
  ~OpsListener();  // Stop()
  OpsListener(const OpsListener&) = delete;
  OpsListener& operator=(const OpsListener&) = delete;

  // Before Start: paths other than the probes need a header `gate` accepts.
  void RequireAuthorization(Gate gate) { gate_ = std::move(gate); }
  // Before Start: a GET route besides /metrics and /healthz.
  void Get(const std::string& path, Handler handler);
  // Before Start: rendered at /metrics after those added before it.
  void AddMetrics(std::shared_ptr<const prometheus::Collectable> collectable);

  // "host:port" (empty host: every address); port 0 picks a free one.
  // Returns the bound port. `what` names the listener in the log line.
  absl::StatusOr<int> Start(const std::string& listen, const std::string& what);
  void Stop();

 private:
  Gate gate_;
  std::vector<std::pair<std::string, Handler>> routes_;
  std::vector<std::shared_ptr<const prometheus::Collectable>> collectables_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

// The Prometheus text of `collectables`, in order (what GET /metrics sends).
std::string RenderMetrics(
    const std::vector<std::shared_ptr<const prometheus::Collectable>>& collectables);

}  // namespace sluice::metrics

#endif  // SLUICE_COMMON_METRICS_OPS_LISTENER_H_
