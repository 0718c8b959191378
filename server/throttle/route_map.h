// RouteMap holds what the throttler has learned about which budgets govern a
// call, and names those budgets:
//
//   ESI  route -> rate-limit group (X-Ratelimit-Group), group -> limit/window.
//        A call draws from  esi/group/<group>  (or, before the group is known,
//        esi/route/<route> with the configured default) and from  esi/errors.
//        Groups are treated as global (shared by every egress and character):
//        this can only under-use a per-user group, never overshoot it.
//   PoE  route -> policy (X-Rate-Limit-Policy), policy -> rules -> tiers.
//        A call draws from one budget per tier of every rule:
//        poe/<policy>/<rule>/<tier>, or poe/<policy>/ip/<egress>/<tier> for the
//        per-IP rule ("Ip"). Before the policy is known: poe/route/<route>.
//        A missing egress shares "unknown": callers on different addresses
//        then share one budget, which again only under-uses.
//
// Every change bumps generation(), so callers can cache resolutions.
//
// Ownership: owned by the Throttler. Thread-safety: none; guarded by the
// Throttler's mutex.
#ifndef SLUICE_SERVER_THROTTLE_ROUTE_MAP_H_
#define SLUICE_SERVER_THROTTLE_ROUTE_MAP_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "server/throttle/budget.h"
#include "server/throttle/call_key.h"

namespace sluice::throttle {

inline constexpr char kEsiErrorsBudget[] = "esi/errors";

std::string EsiGroupBudgetName(const std::string& group);
std::string EsiRouteBudgetName(const std::string& route);
std::string PoeRouteBudgetName(const std::string& route);
std::string PoeTierBudgetName(const std::string& policy, const std::string& rule_lower,
                              bool per_ip, const std::string& egress, size_t tier);

struct WindowLimit {
  int64_t limit = 0;
  Duration period{};
};

// Enough to create a budget that does not exist yet.
struct BudgetSpec {
  std::string name;
  BudgetKind kind = BudgetKind::kEsiRoute;
  WindowLimit limit;
  Duration penalty{};  // PoE restriction for breaking the tier
  bool learned = false;
};

struct PoeTierShape {
  WindowLimit limit;
  Duration penalty{};
};

struct PoeRuleShape {
  std::string name;   // as the upstream spells it, e.g. "Ip"
  std::string lower;  // "ip"
  std::vector<PoeTierShape> tiers;
  bool per_ip() const { return lower == "ip"; }
};

struct RouteMapDefaults {
  WindowLimit esi_route;
  WindowLimit poe_route;
  int64_t esi_error_limit = 100;
  Duration esi_error_window = std::chrono::seconds(60);
};

class RouteMap {
 public:
  explicit RouteMap(RouteMapDefaults defaults) : defaults_(defaults) {}

  // Each returns true if something changed (and bumps generation()).
  bool SetEsiGroup(const std::string& route, const std::string& group);
  bool SetEsiGroupLimit(const std::string& group, WindowLimit limit);
  bool SetPoePolicy(const std::string& route, const std::string& policy);
  bool SetPoeRules(const std::string& policy, std::vector<PoeRuleShape> rules);

  // nullptr if unknown.
  const std::string* EsiGroupOf(const std::string& route) const;
  const WindowLimit* EsiGroupLimit(const std::string& group) const;
  const std::string* PoePolicyOf(const std::string& route) const;
  const std::vector<PoeRuleShape>* PoeRules(const std::string& policy) const;

  // The budgets governing `key`, tightest-first order irrelevant but stable.
  std::vector<BudgetSpec> Resolve(const CallKey& key) const;

  uint64_t generation() const { return generation_; }
  const RouteMapDefaults& defaults() const { return defaults_; }

  // Persistence.
  const std::map<std::string, std::string>& esi_routes() const { return esi_routes_; }
  const std::map<std::string, WindowLimit>& esi_groups() const { return esi_groups_; }
  const std::map<std::string, std::string>& poe_routes() const { return poe_routes_; }
  const std::map<std::string, std::vector<PoeRuleShape>>& poe_policies() const {
    return poe_policies_;
  }

 private:
  RouteMapDefaults defaults_;
  std::map<std::string, std::string> esi_routes_;   // route -> group
  std::map<std::string, WindowLimit> esi_groups_;   // group -> learned limit
  std::map<std::string, std::string> poe_routes_;   // route -> policy
  std::map<std::string, std::vector<PoeRuleShape>> poe_policies_;
  uint64_t generation_ = 1;
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_ROUTE_MAP_H_
