#include "sim/poe_limits.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <algorithm>

#include "sim/http_util.h"

namespace sluice::sim {

PoeLimiter::PoeLimiter(std::string policy, std::vector<PoeRule> rules, const Clock* clock)
    : policy_(std::move(policy)), rules_(std::move(rules)), clock_(clock) {}

PoeLimiter::ClientState& PoeLimiter::StateForLocked(const std::string& client, TimePoint now) {
  ClientState& state = clients_[client];
  if (state.empty()) {
    for (const PoeRule& rule : rules_) state.emplace_back(rule.tiers.size());
  }
  for (size_t r = 0; r < rules_.size(); ++r) {
    for (size_t t = 0; t < rules_[r].tiers.size(); ++t) {
      auto period = std::chrono::seconds(rules_[r].tiers[t].period_seconds);
      std::deque<TimePoint>& hits = state[r][t].hits;
      while (!hits.empty() && hits.front() + period <= now) hits.pop_front();
    }
  }
  return state;
}

std::string PoeLimiter::StateHeaderLocked(size_t r, const ClientState& state,
                                          TimePoint now) const {
  std::vector<std::string> parts;
  for (size_t t = 0; t < rules_[r].tiers.size(); ++t) {
    const TierState& ts = state[r][t];
    parts.push_back(absl::StrCat(ts.hits.size(), ":", rules_[r].tiers[t].period_seconds, ":",
                                 CeilSeconds(ts.restricted_until - now)));
  }
  return absl::StrJoin(parts, ",");
}

PoeLimiter::Decision PoeLimiter::Decide(const std::string& client) {
  TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  ClientState& state = StateForLocked(client, now);
  Decision d;

  Duration restricted_for = Duration::zero();
  for (const auto& rule_state : state) {
    for (const TierState& ts : rule_state) {
      restricted_for = std::max(restricted_for, ts.restricted_until - now);
    }
  }
  if (restricted_for > Duration::zero()) {
    d.outcome = Outcome::kRestricted;
    d.retry_after_seconds = CeilSeconds(restricted_for);
  } else {
    for (size_t r = 0; r < rules_.size(); ++r) {
      for (size_t t = 0; t < rules_[r].tiers.size(); ++t) {
        const PoeTier& tier = rules_[r].tiers[t];
        if (static_cast<int>(state[r][t].hits.size()) + 1 > tier.hits) {
          d.outcome = Outcome::kRuleExceeded;
          state[r][t].restricted_until = now + std::chrono::seconds(tier.restriction_seconds);
          d.retry_after_seconds = std::max<int64_t>(d.retry_after_seconds,
                                                    tier.restriction_seconds);
        }
      }
    }
    if (d.outcome == Outcome::kAllowed) {
      for (auto& rule_state : state) {
        for (TierState& ts : rule_state) ts.hits.push_back(now);
      }
    } else if (d.retry_after_seconds == 0) {
      // A tier with no restriction time still refuses this request; tell the
      // client to wait for its oldest hit to leave the period.
      d.retry_after_seconds = 1;
    }
  }

  std::vector<std::string> names;
  for (const PoeRule& rule : rules_) names.push_back(rule.name);
  d.headers.emplace_back("X-Rate-Limit-Policy", policy_);
  d.headers.emplace_back("X-Rate-Limit-Rules", absl::StrJoin(names, ","));
  for (size_t r = 0; r < rules_.size(); ++r) {
    d.headers.emplace_back(absl::StrCat("X-Rate-Limit-", rules_[r].name),
                           FormatPoeTiers(rules_[r]));
    d.headers.emplace_back(absl::StrCat("X-Rate-Limit-", rules_[r].name, "-State"),
                           StateHeaderLocked(r, state, now));
  }
  return d;
}

void PoeLimiter::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  clients_.clear();
}

nlohmann::json PoeLimiter::ToJson() {
  TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json rules = nlohmann::json::object();
  for (size_t r = 0; r < rules_.size(); ++r) {
    nlohmann::json clients = nlohmann::json::object();
    for (auto& [client, state] : clients_) {
      StateForLocked(client, now);
      clients[client] = StateHeaderLocked(r, state, now);
    }
    rules[rules_[r].name] = {{"limit", FormatPoeTiers(rules_[r])}, {"clients", clients}};
  }
  return {{"rules", rules}};
}

}  // namespace sluice::sim
