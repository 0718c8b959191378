// Route names one throttled call shape: the upstream ("esi", "poe") and the
// path template ("/alliances/{id}/"). The coordinator's throttler maps routes
// to the budgets that govern them, so agents lease tokens per route.
#ifndef SLUICE_AGENT_THROTTLE_ROUTE_H_
#define SLUICE_AGENT_THROTTLE_ROUTE_H_

#include <string>
#include <tuple>

namespace sluice::agent {

struct Route {
  std::string upstream;
  std::string path_template;

  // "esi /alliances/{id}/": a map key and a log label.
  std::string Key() const { return upstream + " " + path_template; }
  bool operator==(const Route& o) const {
    return upstream == o.upstream && path_template == o.path_template;
  }
  bool operator<(const Route& o) const {
    return std::tie(upstream, path_template) < std::tie(o.upstream, o.path_template);
  }
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_THROTTLE_ROUTE_H_
