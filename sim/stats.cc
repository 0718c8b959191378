#include "sim/stats.h"

#include <algorithm>
#include <tuple>
#include <vector>

namespace sluice::sim {
namespace {

constexpr char kOther[] = "(other)";

// ++counts[key], or ++counts["(other)"] once `cap` keys are held.
template <typename Map>
void CountCapped(Map& counts, const std::string& key, size_t cap) {
  auto it = counts.find(key);
  if (it != counts.end()) {
    ++it->second;
  } else if (counts.size() < cap) {
    counts.emplace(key, 1);
  } else {
    ++counts[kOther];
  }
}

}  // namespace

StatsCollector::StatsCollector() { Reset(); }

void StatsCollector::RecordRequest(const std::string& route, int status,
                                   const std::string& user_agent, const std::string& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_;
  CountCapped(by_caller_, caller, kMaxCallers);
  ++by_route_[route];
  ++by_status_[status];
  if (status == 304) ++not_modified_;
  if (status >= 400) ++errors_;
  if (user_agent.empty()) {
    ++without_user_agent_;
  } else if (user_agents_.count(user_agent) > 0 || user_agents_.size() < kMaxUserAgents) {
    ++user_agents_[user_agent];
  } else {
    ++user_agents_["(other)"];
  }
}

void StatsCollector::RecordViolation(const char* reason, const std::string& caller) {
  std::lock_guard<std::mutex> lock(mu_);
  ++violations_[reason];
  CountCapped(violations_by_caller_, caller, kMaxViolators);
}

void StatsCollector::RecordUserAgentFormat(const std::string& upstream, bool follows) {
  std::lock_guard<std::mutex> lock(mu_);
  ++user_agent_format_[upstream + (follows ? ".follows" : ".does_not")];
}

void StatsCollector::RecordFault(const char* kind) {
  std::lock_guard<std::mutex> lock(mu_);
  ++faults_[kind];
}

void StatsCollector::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  requests_ = not_modified_ = errors_ = without_user_agent_ = 0;
  by_route_.clear();
  by_status_.clear();
  user_agents_.clear();
  user_agent_format_.clear();
  by_caller_.clear();
  violations_by_caller_.clear();
  // Every reason and fault is always present, so readers need no defaults.
  violations_.clear();
  for (const char* r :
       {kViolationEsiGroup, kViolationEsiErrorLimit, kViolationPoeRestriction, kViolationPoeRule}) {
    violations_[r] = 0;
  }
  faults_.clear();
  for (const char* f : {"5xx", "slow", "malformed", "429_no_headers"}) faults_[f] = 0;
}

nlohmann::json StatsCollector::ToJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json by_status = nlohmann::json::object();
  for (const auto& [status, n] : by_status_) by_status[std::to_string(status)] = n;
  uint64_t total_violations = 0;
  nlohmann::json violations = nlohmann::json::object();
  for (const auto& [reason, n] : violations_) {
    violations[reason] = n;
    total_violations += n;
  }
  violations["total"] = total_violations;
  violations["by_caller"] = violations_by_caller_;

  // The busiest callers, by requests then name, and how many there are.
  std::vector<std::pair<std::string, uint64_t>> callers(by_caller_.begin(), by_caller_.end());
  const size_t shown = std::min(kTopCallers, callers.size());
  std::partial_sort(callers.begin(), callers.begin() + shown, callers.end(),
                    [](const auto& a, const auto& b) {
                      return std::tie(b.second, a.first) < std::tie(a.second, b.first);
                    });
  nlohmann::json top = nlohmann::json::array();
  for (size_t i = 0; i < shown; ++i) {
    top.push_back({{"caller", callers[i].first}, {"requests", callers[i].second}});
  }
  return {{"requests_total", requests_},
          {"requests_by_caller", {{"callers", callers.size()}, {"top", top}}},
          {"requests_by_route", by_route_},
          {"responses_by_status", by_status},
          {"not_modified", not_modified_},
          {"errors", errors_},
          {"violations", violations},
          {"faults", faults_},
          {"requests_without_user_agent", without_user_agent_},
          {"user_agents", user_agents_},
          {"user_agent_format", user_agent_format_}};
}

}  // namespace sluice::sim
