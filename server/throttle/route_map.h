// RouteMap holds what the throttler knows about which budgets govern a call,
// and names those budgets. A budget's name is `<family>/<scope>`: the family
// is the allowance (an ESI group, a PoE rule tier) and the scope is whom the
// upstream bills it to (see call_key.h), so every caller has its own bucket
// while all callers of a family share what was learned about its size.
//
//   ESI  route -> rate-limit group (X-Ratelimit-Group) or "ungrouped";
//        group -> limit/window, learned from any caller's headers or seeded
//        from ESI's OpenAPI `x-rate-limit` (esi_openapi.h).
//          grouped    esi/group/<group>/<char:ID | ip:EGRESS>
//          ungrouped  esi/ungrouped/<route>/<scope>: only the error limit
//                     governs these on ESI; this budget carries an optional
//                     configured cap and the route's own 429 restrictions
//          unknown    esi/route/<route> (one probe call in flight) AND the
//                     caller's budget of every known group: the route may
//                     belong to any of them, so it may be called only while
//                     all of them have room (never overshoots)
//        plus esi/errors/ip:<egress>, the error limit of the source address.
//   PoE  route -> policy (X-Rate-Limit-Policy), policy -> rules -> tiers.
//        poe/<policy>/<rule>/<tier>/<scope>, the scope by the rule's name:
//        Ip -> ip:<egress>, Account -> the caller, Client -> client, any
//        other rule -> global (the safe reading). Unknown route:
//        poe/route/<route> AND every tier of every known policy.
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

#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "server/throttle/budget.h"
#include "server/throttle/call_key.h"

namespace sluice::throttle {

// Scopes: whom the upstream bills.
std::string EgressScope(const CallKey& key);     // "ip:<egress>" or "ip:unknown"
std::string EsiCallerScope(const CallKey& key);  // the caller, else EgressScope
// "ip", "account", "client" or anything else (-> "global").
std::string PoeRuleScope(absl::string_view rule_lower, const CallKey& key);
// What kind of payer a budget's scope is, for bounded listings and metrics:
// "ip" (ip:...), "character" (char:...), "account" (account:... and other
// billed callers), "client", "global" (global, or no scope).
absl::string_view ScopeClass(absl::string_view scope);

// ESI route templates name their parameters differently in different places
// ("/characters/{id}/" here, "/characters/{character_id}" in ESI's OpenAPI
// specification): routes are mapped by their shape, with every parameter
// written "{}" and no trailing slash.
std::string CanonicalRoute(absl::string_view route);

// Families and names.
std::string EsiGroupFamily(absl::string_view group);
std::string EsiErrorsFamily();
std::string EsiRouteFamily(absl::string_view route);
std::string EsiUngroupedFamily(absl::string_view route);
std::string PoeTierFamily(absl::string_view policy, absl::string_view rule_lower, size_t tier);
std::string PoeRouteFamily(absl::string_view route);
// "<family>/<scope>", or the family alone for an empty scope.
std::string BudgetName(absl::string_view family, absl::string_view scope);

struct WindowLimit {
  int64_t limit = 0;
  Duration period{};
};

// Enough to create a budget that does not exist yet.
struct BudgetSpec {
  std::string name;
  std::string family;
  std::string scope;
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
};

struct RouteMapDefaults {
  WindowLimit esi_route;
  WindowLimit poe_route;
  int64_t esi_error_limit = 100;
  Duration esi_error_window = std::chrono::seconds(60);
  // Cap on an ungrouped ESI route per scope; limit 0 = none (the error limit
  // alone governs it, as on ESI).
  WindowLimit esi_ungrouped;
};

enum class EsiRouteKind { kUnknown, kGrouped, kUngrouped };

class RouteMap {
 public:
  explicit RouteMap(RouteMapDefaults defaults) : defaults_(defaults) {}

  // Each returns true if something changed (and bumps generation()).
  bool SetEsiGroup(const std::string& route, const std::string& group);
  // The route answered without group headers: no group governs it.
  bool SetEsiUngrouped(const std::string& route);
  bool SetEsiGroupLimit(const std::string& group, WindowLimit limit);
  bool SetPoePolicy(const std::string& route, const std::string& policy);
  bool SetPoeRules(const std::string& policy, std::vector<PoeRuleShape> rules);

  // kGrouped sets *group.
  EsiRouteKind EsiRouteOf(const std::string& route, const std::string** group) const;
  // nullptr if unknown.
  const WindowLimit* EsiGroupLimit(const std::string& group) const;
  const std::string* PoePolicyOf(const std::string& route) const;
  const std::vector<PoeRuleShape>* PoeRules(const std::string& policy) const;

  // The budgets governing `key` (see the file comment), in a stable order.
  std::vector<BudgetSpec> Resolve(const CallKey& key) const;

  uint64_t generation() const { return generation_; }
  const RouteMapDefaults& defaults() const { return defaults_; }

  // Persistence. An empty group in esi_routes() means ungrouped.
  const std::map<std::string, std::string>& esi_routes() const { return esi_routes_; }
  const std::map<std::string, WindowLimit>& esi_groups() const { return esi_groups_; }
  const std::map<std::string, std::string>& poe_routes() const { return poe_routes_; }
  const std::map<std::string, std::vector<PoeRuleShape>>& poe_policies() const {
    return poe_policies_;
  }

 private:
  void AddPoePolicyTiers(const std::string& policy, const std::vector<PoeRuleShape>& rules,
                         const CallKey& key, std::vector<BudgetSpec>* out) const;

  RouteMapDefaults defaults_;
  std::map<std::string, std::string> esi_routes_;  // canonical route -> group ("" = ungrouped)
  std::map<std::string, WindowLimit> esi_groups_;  // group -> learned limit
  std::map<std::string, std::string> poe_routes_;  // route -> policy
  std::map<std::string, std::vector<PoeRuleShape>> poe_policies_;
  uint64_t generation_ = 1;
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_ROUTE_MAP_H_
