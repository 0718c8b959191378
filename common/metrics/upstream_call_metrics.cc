#include "common/metrics/upstream_call_metrics.h"

#include <strings.h>

#include "common/metrics/metric_buckets.h"

namespace sluice::metrics {

UpstreamCallMetrics::UpstreamCallMetrics(prometheus::Registry& registry, const std::string& name)
    : family_(prometheus::BuildHistogram()
                  .Name(name)
                  .Help("Upstream HTTP calls (connect to last byte) by upstream, rate-limit group "
                        "or policy, and status class.")
                  .Register(registry)) {}

std::string UpstreamCallMetrics::StatusClass(int status) {
  if (status <= 0) return "failed";
  if (status == 420 || status == 429) return "rate_limited";
  if (status < 300) return "2xx";
  if (status < 400) return "3xx";
  if (status < 500) return "4xx";
  return "5xx";
}

std::string UpstreamCallMetrics::GroupHeader(const Headers& headers) {
  for (const auto& [name, value] : headers) {
    if (strcasecmp(name.c_str(), "X-Ratelimit-Group") == 0 ||
        strcasecmp(name.c_str(), "X-Rate-Limit-Policy") == 0) {
      return value;
    }
  }
  return "";
}

void UpstreamCallMetrics::Observe(const std::string& upstream, const std::string& route,
                                  int status, const Headers& headers, double seconds) {
  std::string group = GroupHeader(headers);
  {
    std::lock_guard<std::mutex> lock(mu_);
    const auto key = std::make_pair(upstream, route);
    if (group.empty()) {
      auto it = route_group_.find(key);
      group = it == route_group_.end() ? "none" : it->second;
    } else {
      std::set<std::string>& known = groups_[upstream];
      if (known.count(group) == 0) {
        if (known.size() >= kMaxGroups) {
          group = "other";
        } else {
          known.insert(group);
        }
      }
      if (route_group_.size() < kMaxRoutes || route_group_.count(key)) route_group_[key] = group;
    }
  }
  family_
      .Add({{"upstream", upstream}, {"group", group}, {"status_class", StatusClass(status)}},
           prometheus::Histogram::BucketBoundaries(UpstreamSecondsBuckets()))
      .Observe(seconds < 0 ? 0 : seconds);
}

}  // namespace sluice::metrics
