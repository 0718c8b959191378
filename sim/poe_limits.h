// PoeLimiter enforces one Path of Exile rate-limit policy (for example
// "public-stash-request-limit"): a set of rules, each with tiers of
// hits:period:restriction.
//
// Each rule is tracked per its own scope, named by the rule: GGG's
// X-Rate-Limit-Rules header lists the rules a policy applies (e.g.
// "Account,Ip"), each one counting a different payer (GGG developer docs,
// "Rate Limits": https://www.pathofexile.com/developer/docs; GGG's staff
// explanation of the headers: https://www.pathofexile.com/forum/view-thread/2079853,
// where logging in moves a policy's tracking from the IP to the account).
// The simulator keys:
//   Ip      -> the remote address
//   Account -> the bearer token sent ("anonymous" without one)
//   Client  -> kPoeClientKey (the simulator has no PoE OAuth clients yet)
//   other   -> one global key
// Under Metering::kGlobal every rule is keyed by the remote address, the
// simulator's original model.
//
// A request that would push any tier of any rule over its hits is refused and
// that tier restricts its key for the restriction time; while any tier of
// the request's keys is restricted, the request is refused. Refused requests
// are not counted as hits, so a well-behaved client that waits Retry-After
// always gets through. Idle keys (no hits within any period, no restriction)
// are dropped in amortized sweeps, so many callers cost O(1) per request.
//
// Ownership: owned by the Simulator; the Clock is borrowed.
// Thread-safety: all methods are safe to call concurrently (one mutex).
#ifndef SLUICE_SIM_POE_LIMITS_H_
#define SLUICE_SIM_POE_LIMITS_H_

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "sim/config.h"

namespace sluice::sim {

// The key of the Client rule (one fixed OAuth client) and of the Account rule
// for requests without a token.
inline constexpr char kPoeClientKey[] = "sim-client";
inline constexpr char kPoeAnonymous[] = "anonymous";

// Who sent a PoE request, as each rule scope sees it.
struct PoeCaller {
  std::string address;  // remote address
  std::string account;  // bearer token, or kPoeAnonymous
};

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
    // Who is refused, when refused: "ip:<address>", "account:<token>",
    // "client:<key>" or "global" (the first rule refusing).
    std::string refused_key;
    // X-Rate-Limit-Policy, -Rules, -<rule>, -<rule>-State, after this request.
    std::vector<std::pair<std::string, std::string>> headers;
  };

  PoeLimiter(std::string policy, std::vector<PoeRule> rules, const Clock* clock,
             Metering metering = Metering::kPerCaller);

  Decision Decide(const PoeCaller& caller);
  // The key class a rule name scopes to: "Ip", "Account", "Client" or "global".
  static const char* ScopeOf(const std::string& rule_name);
  void Reset();
  // {"rules": {"Ip": {"limit": "45:60:120", "scope": "Ip", "keys": 2,
  //  "clients": {"127.0.0.1": "3:60:0"}}}}: `keys` counts the keys with
  // hits or a restriction, `clients` shows at most kShownKeys of them
  // (restricted first, then most hits).
  nlohmann::json ToJson();
  // Keys held (idle ones not yet swept included), for tests.
  size_t size();

  const std::string& policy() const { return policy_; }

  static constexpr size_t kShownKeys = 20;

 private:
  struct TierState {
    std::deque<TimePoint> hits;  // within the last period
    TimePoint restricted_until;
  };
  using KeyState = std::vector<TierState>;  // one per tier of the rule
  using RuleTable = std::unordered_map<std::string, KeyState>;

  std::string KeyFor(size_t rule, const PoeCaller& caller) const;
  KeyState& StateForLocked(size_t rule, const std::string& key, TimePoint now);
  void ExpireLocked(size_t rule, KeyState& state, TimePoint now) const;
  bool IdleLocked(const KeyState& state, TimePoint now) const;
  void MaybeSweepLocked(TimePoint now);
  std::string StateHeader(size_t rule, const KeyState& state, TimePoint now) const;
  std::string QualifiedKey(size_t rule, const std::string& key) const;

  static constexpr size_t kMinSweep = 1024;

  const std::string policy_;
  const std::vector<PoeRule> rules_;
  const Clock* const clock_;
  const Metering metering_;
  std::mutex mu_;
  std::vector<RuleTable> keys_;  // one per rule; guarded by mu_
  size_t sweep_at_ = kMinSweep;  // guarded by mu_
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_POE_LIMITS_H_
