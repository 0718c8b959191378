// PoeLimiter enforces one Path of Exile rate-limit policy (for example
// "public-stash-request-limit"): a set of rules, each with tiers of
// hits:period:restriction, tracked per client key (the remote address).
//
// A request that would push any tier over its hits is refused and that tier
// restricts the client for its restriction time; while any tier is
// restricted, every request is refused. Refused requests are not counted as
// hits, so a well-behaved client that waits Retry-After always gets through.
//
// Ownership: owned by the Simulator; the Clock is borrowed.
// Thread-safety: all methods are safe to call concurrently (one mutex).
#ifndef SLUICE_SIM_POE_LIMITS_H_
#define SLUICE_SIM_POE_LIMITS_H_

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "sim/config.h"

namespace sluice::sim {

class PoeLimiter {
 public:
  enum class Outcome {
    kAllowed,
    kRuleExceeded,  // this request broke a tier and started a restriction
    kRestricted,    // a restriction was already active
  };
  struct Decision {
    Outcome outcome = Outcome::kAllowed;
    int64_t retry_after_seconds = 0;
    // X-Rate-Limit-Policy, -Rules, -<rule>, -<rule>-State, after this request.
    std::vector<std::pair<std::string, std::string>> headers;
  };

  PoeLimiter(std::string policy, std::vector<PoeRule> rules, const Clock* clock);

  Decision Decide(const std::string& client);
  void Reset();
  // {"rules": {"Ip": {"limit": "45:60:120", "clients": {"127.0.0.1": "3:60:0"}}}}
  nlohmann::json ToJson();

  const std::string& policy() const { return policy_; }

 private:
  struct TierState {
    std::deque<TimePoint> hits;  // within the last period
    TimePoint restricted_until;
  };
  // One entry per rule, each one per tier.
  using ClientState = std::vector<std::vector<TierState>>;

  ClientState& StateForLocked(const std::string& client, TimePoint now);
  std::string StateHeaderLocked(size_t rule, const ClientState& state, TimePoint now) const;

  const std::string policy_;
  const std::vector<PoeRule> rules_;
  const Clock* const clock_;
  std::mutex mu_;
  std::map<std::string, ClientState> clients_;  // guarded by mu_
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_POE_LIMITS_H_
