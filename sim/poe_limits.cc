#include "sim/poe_limits.h"

#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>

#include <algorithm>
#include <tuple>

#include "sim/http_util.h"

namespace sluice::sim {
namespace {

constexpr char kGlobalKey[] = "global";

}  // namespace

PoeLimiter::PoeLimiter(std::string policy, std::vector<PoeRule> rules, const Clock* clock,
                       Metering metering)
    : policy_(std::move(policy)),
      rules_(std::move(rules)),
      clock_(clock),
      metering_(metering),
      keys_(rules_.size()) {}

const char* PoeLimiter::ScopeOf(const std::string& rule_name) {
  if (rule_name == "Ip") return "Ip";
  if (rule_name == "Account") return "Account";
  if (rule_name == "Client") return "Client";
  return kGlobalKey;
}

std::string PoeLimiter::KeyFor(size_t rule, const PoeCaller& caller) const {
  if (metering_ == Metering::kGlobal) return caller.address;
  const std::string scope = ScopeOf(rules_[rule].name);
  if (scope == "Ip") return caller.address;
  if (scope == "Account") return caller.account.empty() ? kPoeAnonymous : caller.account;
  if (scope == "Client") return kPoeClientKey;
  return kGlobalKey;
}

std::string PoeLimiter::QualifiedKey(size_t rule, const std::string& key) const {
  if (metering_ == Metering::kGlobal) return absl::StrCat("ip:", key);
  const std::string scope = ScopeOf(rules_[rule].name);
  if (scope == "Ip") return absl::StrCat("ip:", key);
  if (scope == "Account") return absl::StrCat("account:", key);
  if (scope == "Client") return absl::StrCat("client:", key);
  return kGlobalKey;
}

void PoeLimiter::ExpireLocked(size_t r, KeyState& state, TimePoint now) const {
  for (size_t t = 0; t < state.size(); ++t) {
    auto period = std::chrono::seconds(rules_[r].tiers[t].period_seconds);
    std::deque<TimePoint>& hits = state[t].hits;
    while (!hits.empty() && hits.front() + period <= now) hits.pop_front();
  }
}

bool PoeLimiter::IdleLocked(const KeyState& state, TimePoint now) const {
  for (const TierState& ts : state) {
    if (!ts.hits.empty() || ts.restricted_until > now) return false;
  }
  return true;
}

PoeLimiter::KeyState& PoeLimiter::StateForLocked(size_t r, const std::string& key, TimePoint now) {
  KeyState& state = keys_[r][key];
  if (state.empty()) state.resize(rules_[r].tiers.size());
  ExpireLocked(r, state, now);
  return state;
}

void PoeLimiter::MaybeSweepLocked(TimePoint now) {
  size_t total = 0;
  for (const RuleTable& table : keys_) total += table.size();
  if (total < sweep_at_) return;
  total = 0;
  for (size_t r = 0; r < keys_.size(); ++r) {
    for (auto it = keys_[r].begin(); it != keys_[r].end();) {
      ExpireLocked(r, it->second, now);
      if (IdleLocked(it->second, now)) {
        it = keys_[r].erase(it);
      } else {
        ++it;
      }
    }
    total += keys_[r].size();
  }
  sweep_at_ = std::max(kMinSweep, 2 * total);
}

std::string PoeLimiter::StateHeader(size_t r, const KeyState& state, TimePoint now) const {
  std::vector<std::string> parts;
  for (size_t t = 0; t < rules_[r].tiers.size(); ++t) {
    const TierState& ts = state[t];
    parts.push_back(absl::StrCat(ts.hits.size(), ":", rules_[r].tiers[t].period_seconds, ":",
                                 CeilSeconds(ts.restricted_until - now)));
  }
  return absl::StrJoin(parts, ",");
}

PoeLimiter::Decision PoeLimiter::Decide(const PoeCaller& caller) {
  TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  // Sweep first: the references taken below must not be invalidated.
  MaybeSweepLocked(now);
  std::vector<std::string> keys;
  std::vector<KeyState*> states;
  for (size_t r = 0; r < rules_.size(); ++r) {
    keys.push_back(KeyFor(r, caller));
    // unordered_map keeps references to its elements valid across inserts.
    states.push_back(&StateForLocked(r, keys.back(), now));
  }
  Decision d;

  Duration restricted_for = Duration::zero();
  for (size_t r = 0; r < rules_.size(); ++r) {
    for (const TierState& ts : *states[r]) {
      if (ts.restricted_until - now > restricted_for) {
        restricted_for = ts.restricted_until - now;
        d.refused_key = QualifiedKey(r, keys[r]);
      }
    }
  }
  if (restricted_for > Duration::zero()) {
    d.outcome = Outcome::kRestricted;
    d.retry_after_seconds = CeilSeconds(restricted_for);
  } else {
    for (size_t r = 0; r < rules_.size(); ++r) {
      for (size_t t = 0; t < rules_[r].tiers.size(); ++t) {
        const PoeTier& tier = rules_[r].tiers[t];
        TierState& ts = (*states[r])[t];
        if (static_cast<int>(ts.hits.size()) + 1 > tier.hits) {
          if (d.outcome == Outcome::kAllowed) d.refused_key = QualifiedKey(r, keys[r]);
          d.outcome = Outcome::kRuleExceeded;
          ts.restricted_until = now + std::chrono::seconds(tier.restriction_seconds);
          d.retry_after_seconds =
              std::max<int64_t>(d.retry_after_seconds, tier.restriction_seconds);
        }
      }
    }
    if (d.outcome == Outcome::kAllowed) {
      for (KeyState* state : states) {
        for (TierState& ts : *state) ts.hits.push_back(now);
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
                           StateHeader(r, *states[r], now));
  }
  return d;
}

void PoeLimiter::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  for (RuleTable& table : keys_) table.clear();
  sweep_at_ = kMinSweep;
}

size_t PoeLimiter::size() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t total = 0;
  for (const RuleTable& table : keys_) total += table.size();
  return total;
}

nlohmann::json PoeLimiter::ToJson() {
  TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::json rules = nlohmann::json::object();
  for (size_t r = 0; r < rules_.size(); ++r) {
    struct Row {
      std::string key;
      bool restricted;
      size_t hits;  // the most any tier of the rule counts
      const KeyState* state;
    };
    std::vector<Row> rows;
    for (auto& [key, state] : keys_[r]) {
      ExpireLocked(r, state, now);
      if (IdleLocked(state, now)) continue;
      Row row{key, false, 0, &state};
      for (const TierState& ts : state) {
        row.restricted = row.restricted || ts.restricted_until > now;
        row.hits = std::max(row.hits, ts.hits.size());
      }
      rows.push_back(row);
    }
    const size_t shown = std::min(kShownKeys, rows.size());
    std::partial_sort(rows.begin(), rows.begin() + shown, rows.end(),
                      [](const Row& a, const Row& b) {
                        return std::make_tuple(!a.restricted, b.hits, a.key) <
                               std::make_tuple(!b.restricted, a.hits, b.key);
                      });
    nlohmann::json clients = nlohmann::json::object();
    for (size_t i = 0; i < shown; ++i) clients[rows[i].key] = StateHeader(r, *rows[i].state, now);
    rules[rules_[r].name] = {
        {"limit", FormatPoeTiers(rules_[r])},
        {"scope", metering_ == Metering::kGlobal ? "Ip" : ScopeOf(rules_[r].name)},
        {"keys", rows.size()},
        {"clients", clients}};
  }
  return {{"rules", rules}};
}

}  // namespace sluice::sim
