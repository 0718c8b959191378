#include "server/ops/ops_http_server.h"

#include <httplib.h>

#include <cstdlib>

#include "common/metrics/ops_listener.h"
#include "server/ops/dashboard_assets.h"
#include "server/ops/ops_metrics.h"

namespace sluice {

OpsHttpServer::OpsHttpServer(Collector collect, ReadinessCheck ready)
    : collect_(std::move(collect)), ready_(std::move(ready)) {
  metrics_.push_back(std::make_shared<SnapshotMetrics>(collect_));
}

OpsHttpServer::~OpsHttpServer() { Stop(); }

absl::StatusOr<int> OpsHttpServer::Start(const std::string& listen) {
  // The listener every binary shares serves /metrics and /healthz and gates
  // the rest; the routes below are the coordinator's own.
  listener_ = std::make_unique<metrics::OpsListener>();
  if (gate_) listener_->RequireAuthorization(gate_);
  for (const auto& c : metrics_) listener_->AddMetrics(c);
  listener_->Get("/api/ops", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(RenderJson(collect_()).dump(), "application/json");
  });
  listener_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    const Readiness r = ready_();
    res.status = r.ready ? 200 : 503;
    res.set_content(r.ready ? "ok\n" : r.detail + "\n", "text/plain");
  });
  listener_->Get("/api/ops/history", [this](const httplib::Request& req, httplib::Response& res) {
    double since = 0;
    if (req.has_param("since")) {
      const std::string text = req.get_param_value("since");
      char* end = nullptr;
      since = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size()) {
        res.status = 400;
        res.set_content("since must be unix seconds, got '" + text + "'\n", "text/plain");
        return;
      }
    }
    const nlohmann::json body = history_ ? history_->Since(since) : OpsHistory({1, 1}).Since(since);
    res.set_content(body.dump(), "application/json");
  });
  for (const DashboardAsset& asset : DashboardAssets()) {
    listener_->Get(asset.path, [&asset](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-cache");
      res.set_content(asset.body, asset.content_type);
    });
  }
  return listener_->Start(listen, "ops endpoint (/metrics, /readyz, dashboard)");
}

void OpsHttpServer::Stop() {
  if (listener_) listener_->Stop();
}

}  // namespace sluice
