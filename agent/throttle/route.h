// Route names one throttled call: the upstream ("esi", "poe"), the path
// template ("/alliances/{id}/") and whom an authenticated call is billed to
// (caller, e.g. "char:90000001"; empty for public calls, which the upstream
// bills to this host's address). The coordinator's throttler maps it to the
// budgets that govern it, so agents lease tokens per route and caller.
#ifndef SLUICE_AGENT_THROTTLE_ROUTE_H_
#define SLUICE_AGENT_THROTTLE_ROUTE_H_

#include <string>
#include <tuple>

namespace sluice::agent {

struct Route {
  std::string upstream;
  std::string path_template;
  std::string caller;

  // "esi /alliances/{id}/" (plus " as <caller>"): a map key and a log label.
  std::string Key() const {
    std::string key = upstream + " " + path_template;
    if (!caller.empty()) key += " as " + caller;
    return key;
  }
  // The same route billed to `who`.
  Route BilledTo(std::string who) const { return Route{upstream, path_template, std::move(who)}; }
  bool operator==(const Route& o) const {
    return upstream == o.upstream && path_template == o.path_template && caller == o.caller;
  }
  bool operator<(const Route& o) const {
    return std::tie(upstream, path_template, caller) <
           std::tie(o.upstream, o.path_template, o.caller);
  }
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_THROTTLE_ROUTE_H_
