// UpstreamCallMetrics counts upstream HTTP calls and their durations in one
// histogram, <name>{upstream, group, status_class}: the agents observe the
// calls they make, the coordinator the calls agents report (ReportBatch observations carry sent_age and
// response_age, measured at one instant on the agent's monotonic clock, so
// their difference is the call's duration).
//
//   group         the ESI rate-limit group (X-Ratelimit-Group) or the PoE
//                 policy (X-Rate-Limit-Policy) the response named; a
//                 response without one (a transport failure, most 5xx) is
//                 put in the group its route last named; "none" if its route
//                 never named one (ungrouped ESI routes).
//   status_class  2xx, 3xx, 4xx, rate_limited (420, 429), 5xx, failed (no
//                 HTTP answer).
//
// Cardinality is bounded whatever the upstream sends: at most kMaxGroups
// groups per upstream (later ones are counted as "other") and kMaxRoutes
// remembered routes, so the series are at most 2 x 65 x 6.
//
// Ownership: the histograms live in the registry given (it must outlive
// this). Thread-safety: Observe is safe from any thread.
#ifndef SLUICE_COMMON_METRICS_UPSTREAM_CALL_METRICS_H_
#define SLUICE_COMMON_METRICS_UPSTREAM_CALL_METRICS_H_

#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace sluice::metrics {

class UpstreamCallMetrics {
 public:
  static constexpr size_t kMaxGroups = 64;
  static constexpr size_t kMaxRoutes = 1024;
  using Headers = std::vector<std::pair<std::string, std::string>>;

  // `name`: sluice_upstream_request_duration_seconds on the coordinator (every
  // agent's calls), sluice_agent_upstream_request_duration_seconds on an
  // agent (its own), so a sum over both jobs never counts a call twice.
  UpstreamCallMetrics(prometheus::Registry& registry, const std::string& name);

  // One call of `route` ("esi", "/characters/{id}/") answered with `status`
  // (0: no answer) and `headers` (the rate-limit ones suffice) after `seconds`.
  void Observe(const std::string& upstream, const std::string& route, int status,
               const Headers& headers, double seconds);

  static std::string StatusClass(int status);
  // The group or policy a response names, "" if none.
  static std::string GroupHeader(const Headers& headers);

 private:
  prometheus::Family<prometheus::Histogram>& family_;
  std::mutex mu_;  // guards the maps
  std::map<std::pair<std::string, std::string>, std::string> route_group_;  // (upstream, route)
  std::map<std::string, std::set<std::string>> groups_;                     // by upstream
};

}  // namespace sluice::metrics

#endif  // SLUICE_COMMON_METRICS_UPSTREAM_CALL_METRICS_H_
