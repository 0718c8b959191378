#include "server/ops/ops_http_server.h"

#include <glog/logging.h>
#include <httplib.h>

#include <cstdlib>

#include "common/metrics/ops_listener.h"
#include "server/ops/ops_metrics.h"

#include "server/ops/dashboard_assets.h"

namespace sluice {

OpsHttpServer::OpsHttpServer(Collector collect) : collect_(std::move(collect)) {
  metrics_.push_back(std::make_shared<SnapshotMetrics>(collect_));
}

OpsHttpServer::~OpsHttpServer() { Stop(); }

absl::StatusOr<int> OpsHttpServer::Start(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("ops listen address must be host:port, got '" + listen + "'");
  }
  std::string host = listen.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    return absl::InvalidArgumentError("ops listen port is not a number in '" + listen + "'");
  }
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError("ops listen port out of range in '" + listen + "'");
  }
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  if (gate_) {
    server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      if (req.path == "/healthz" || req.path == "/readyz") {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      if (gate_(req.get_header_value("Authorization"))) {
        return httplib::Server::HandlerResponse::Unhandled;
      }
      res.status = 401;
      res.set_header("WWW-Authenticate", "Bearer");
      res.set_content("an operator credential is required (Authorization: Bearer <token>)\n",
                      "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    });
  }
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics::RenderMetrics(metrics_), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/api/ops", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(RenderJson(collect_()).dump(), "application/json");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    OpsSnapshot s = collect_();
    res.status = s.database_ok ? 200 : 503;
    res.set_content(s.database_ok ? "ok\n" : "database unavailable: " + s.database_error + "\n",
                    "text/plain");
  });
  server_->Get("/api/ops/history", [this](const httplib::Request& req, httplib::Response& res) {
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
    server_->Get(asset.path, [&asset](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-cache");
      res.set_content(asset.body, asset.content_type);
    });
  }
  int bound = port;
  if (port == 0) {
    bound = server_->bind_to_any_port(host);
    if (bound < 0) return absl::UnavailableError("cannot bind the ops listener on " + host);
  } else if (!server_->bind_to_port(host, port)) {
    return absl::UnavailableError("cannot bind the ops listener on " + listen);
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  LOG(INFO) << "ops endpoint (/metrics, /readyz, dashboard) on " << host << ":" << bound
            << (gate_ ? " (operator credential required but for the probes)" : "");
  return bound;
}

void OpsHttpServer::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice
