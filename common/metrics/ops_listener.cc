#include "common/metrics/ops_listener.h"

#include <glog/logging.h>
#include <httplib.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <sstream>

namespace sluice::metrics {

std::string RenderMetrics(
    const std::vector<std::shared_ptr<const prometheus::Collectable>>& collectables) {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& c : collectables) {
    std::vector<prometheus::MetricFamily> some = c->Collect();
    families.insert(families.end(), std::make_move_iterator(some.begin()),
                    std::make_move_iterator(some.end()));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

OpsListener::OpsListener() = default;

OpsListener::~OpsListener() { Stop(); }

void OpsListener::Get(const std::string& path, Handler handler) {
  routes_.emplace_back(path, std::move(handler));
}

void OpsListener::AddMetrics(std::shared_ptr<const prometheus::Collectable> collectable) {
  collectables_.push_back(std::move(collectable));
}

absl::StatusOr<int> OpsListener::Start(const std::string& listen, const std::string& what) {
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
    res.set_content(RenderMetrics(collectables_), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  for (auto& [path, handler] : routes_) server_->Get(path, handler);
  int bound = port;
  if (port == 0) {
    bound = server_->bind_to_any_port(host);
    if (bound < 0) return absl::UnavailableError("cannot bind the ops listener on " + host);
  } else if (!server_->bind_to_port(host, port)) {
    return absl::UnavailableError("cannot bind the ops listener on " + listen);
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  LOG(INFO) << what << " on " << host << ":" << bound
            << (gate_ ? " (operator credential required but for the probes)" : "");
  return bound;
}

void OpsListener::Stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice::metrics
