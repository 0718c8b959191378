#include "server/throttle/route_map.h"

#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace sluice::throttle {
namespace {

// An ungrouped ESI route without a configured cap: a window nothing fills
// (the error limit governs it); the budget still carries the route's 429s.
constexpr WindowLimit kUncapped{std::numeric_limits<int32_t>::max(), std::chrono::seconds(1)};

bool SameShape(const std::vector<PoeRuleShape>& a, const std::vector<PoeRuleShape>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].lower != b[i].lower || a[i].tiers.size() != b[i].tiers.size()) return false;
    for (size_t j = 0; j < a[i].tiers.size(); ++j) {
      const PoeTierShape& x = a[i].tiers[j];
      const PoeTierShape& y = b[i].tiers[j];
      if (x.limit.limit != y.limit.limit || x.limit.period != y.limit.period ||
          x.penalty != y.penalty) {
        return false;
      }
    }
  }
  return true;
}

BudgetSpec Spec(std::string family, std::string scope, BudgetKind kind, WindowLimit limit,
                Duration penalty, bool learned) {
  BudgetSpec s;
  s.name = BudgetName(family, scope);
  s.family = std::move(family);
  s.scope = std::move(scope);
  s.kind = kind;
  s.limit = limit;
  s.penalty = penalty;
  s.learned = learned;
  return s;
}

}  // namespace

std::string CanonicalRoute(absl::string_view route) {
  std::string out;
  out.reserve(route.size());
  bool in_param = false;
  for (char c : route) {
    if (in_param) {
      if (c == '}') {
        out.append("{}");
        in_param = false;
      }
      continue;
    }
    if (c == '{') {
      in_param = true;
      continue;
    }
    out.push_back(c);
  }
  if (in_param) out.push_back('{');  // unbalanced: keep it distinguishable
  // ESI serves a route with or without its trailing slash, and its OpenAPI
  // document writes it without.
  if (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string EgressScope(const CallKey& key) {
  return absl::StrCat("ip:", key.egress.empty() ? "unknown" : key.egress);
}

std::string EsiCallerScope(const CallKey& key) {
  return key.caller.empty() ? EgressScope(key) : key.caller;
}

std::string PoeRuleScope(absl::string_view rule_lower, const CallKey& key) {
  if (rule_lower == "ip") return EgressScope(key);
  // A call without an account token shares one "unknown" account: safe.
  if (rule_lower == "account") return key.caller.empty() ? "account:unknown" : key.caller;
  // One OAuth client per deployment.
  if (rule_lower == "client") return "client";
  return "global";
}

absl::string_view ScopeClass(absl::string_view scope) {
  if (absl::StartsWith(scope, "ip:")) return "ip";
  if (absl::StartsWith(scope, "char:")) return "character";
  if (scope == "client") return "client";
  if (scope.empty() || scope == "global") return "global";
  return "account";
}

std::string EsiGroupFamily(absl::string_view group) { return absl::StrCat("esi/group/", group); }
std::string EsiErrorsFamily() { return "esi/errors"; }
std::string EsiRouteFamily(absl::string_view route) { return absl::StrCat("esi/route/", route); }
std::string EsiUngroupedFamily(absl::string_view route) {
  return absl::StrCat("esi/ungrouped/", route);
}
std::string PoeTierFamily(absl::string_view policy, absl::string_view rule_lower, size_t tier) {
  return absl::StrCat("poe/", policy, "/", rule_lower, "/", tier);
}
std::string PoeRouteFamily(absl::string_view route) { return absl::StrCat("poe/route/", route); }

std::string BudgetName(absl::string_view family, absl::string_view scope) {
  if (scope.empty()) return std::string(family);
  return absl::StrCat(family, "/", scope);
}

bool RouteMap::SetEsiGroup(const std::string& route, const std::string& group) {
  auto [it, inserted] = esi_routes_.emplace(CanonicalRoute(route), group);
  if (!inserted) {
    if (it->second == group) return false;
    it->second = group;
  }
  ++generation_;
  return true;
}

bool RouteMap::SetEsiUngrouped(const std::string& route) { return SetEsiGroup(route, ""); }

bool RouteMap::SetEsiGroupLimit(const std::string& group, WindowLimit limit) {
  auto [it, inserted] = esi_groups_.emplace(group, limit);
  if (!inserted) {
    if (it->second.limit == limit.limit && it->second.period == limit.period) return false;
    it->second = limit;
  }
  ++generation_;
  return true;
}

bool RouteMap::SetPoePolicy(const std::string& route, const std::string& policy) {
  auto [it, inserted] = poe_routes_.emplace(route, policy);
  if (!inserted) {
    if (it->second == policy) return false;
    it->second = policy;
  }
  ++generation_;
  return true;
}

bool RouteMap::SetPoeRules(const std::string& policy, std::vector<PoeRuleShape> rules) {
  auto it = poe_policies_.find(policy);
  if (it != poe_policies_.end() && SameShape(it->second, rules)) return false;
  poe_policies_[policy] = std::move(rules);
  ++generation_;
  return true;
}

EsiRouteKind RouteMap::EsiRouteOf(const std::string& route, const std::string** group) const {
  auto it = esi_routes_.find(CanonicalRoute(route));
  if (it == esi_routes_.end()) return EsiRouteKind::kUnknown;
  if (it->second.empty()) return EsiRouteKind::kUngrouped;
  if (group != nullptr) *group = &it->second;
  return EsiRouteKind::kGrouped;
}

const WindowLimit* RouteMap::EsiGroupLimit(const std::string& group) const {
  auto it = esi_groups_.find(group);
  return it == esi_groups_.end() ? nullptr : &it->second;
}

const std::string* RouteMap::PoePolicyOf(const std::string& route) const {
  auto it = poe_routes_.find(route);
  return it == poe_routes_.end() ? nullptr : &it->second;
}

const std::vector<PoeRuleShape>* RouteMap::PoeRules(const std::string& policy) const {
  auto it = poe_policies_.find(policy);
  return it == poe_policies_.end() ? nullptr : &it->second;
}

void RouteMap::AddPoePolicyTiers(const std::string& policy, const std::vector<PoeRuleShape>& rules,
                                 const CallKey& key, std::vector<BudgetSpec>* out) const {
  for (const PoeRuleShape& rule : rules) {
    const std::string scope = PoeRuleScope(rule.lower, key);
    for (size_t i = 0; i < rule.tiers.size(); ++i) {
      out->push_back(Spec(PoeTierFamily(policy, rule.lower, i), scope, BudgetKind::kPoeTier,
                          rule.tiers[i].limit, rule.tiers[i].penalty, true));
    }
  }
}

std::vector<BudgetSpec> RouteMap::Resolve(const CallKey& key) const {
  std::vector<BudgetSpec> out;
  if (key.upstream == Upstream::kEsi) {
    const std::string scope = EsiCallerScope(key);
    const std::string* group = nullptr;
    switch (EsiRouteOf(key.route, &group)) {
      case EsiRouteKind::kGrouped: {
        const WindowLimit* limit = EsiGroupLimit(*group);
        // A group named before its limit header parsed keeps the default.
        out.push_back(Spec(EsiGroupFamily(*group), scope, BudgetKind::kEsiGroup,
                           limit != nullptr ? *limit : defaults_.esi_route, Duration{},
                           limit != nullptr));
        break;
      }
      case EsiRouteKind::kUngrouped:
        out.push_back(Spec(EsiUngroupedFamily(key.route), scope, BudgetKind::kEsiUngrouped,
                           defaults_.esi_ungrouped.limit > 0 ? defaults_.esi_ungrouped : kUncapped,
                           Duration{}, true));
        break;
      case EsiRouteKind::kUnknown:
        out.push_back(Spec(EsiRouteFamily(key.route), "", BudgetKind::kEsiRoute,
                           defaults_.esi_route, Duration{}, false));
        for (const auto& [name, limit] : esi_groups_) {
          out.push_back(
              Spec(EsiGroupFamily(name), scope, BudgetKind::kEsiGroup, limit, Duration{}, true));
        }
        break;
    }
    out.push_back(Spec(EsiErrorsFamily(), EgressScope(key), BudgetKind::kEsiErrors,
                       WindowLimit{defaults_.esi_error_limit, defaults_.esi_error_window},
                       Duration{}, false));
    return out;
  }
  const std::string* policy = PoePolicyOf(key.route);
  const std::vector<PoeRuleShape>* rules = policy ? PoeRules(*policy) : nullptr;
  if (rules != nullptr && !rules->empty()) {
    AddPoePolicyTiers(*policy, *rules, key, &out);
    return out;
  }
  out.push_back(Spec(PoeRouteFamily(key.route), "", BudgetKind::kPoeRoute, defaults_.poe_route,
                     Duration{}, false));
  for (const auto& [name, known_rules] : poe_policies_) {
    AddPoePolicyTiers(name, known_rules, key, &out);
  }
  return out;
}

}  // namespace sluice::throttle
