#include "server/throttle/route_map.h"

#include "absl/strings/str_cat.h"

namespace sluice::throttle {

std::string EsiGroupBudgetName(const std::string& group) { return absl::StrCat("esi/group/", group); }

std::string EsiRouteBudgetName(const std::string& route) { return absl::StrCat("esi/route/", route); }

std::string PoeRouteBudgetName(const std::string& route) { return absl::StrCat("poe/route/", route); }

std::string PoeTierBudgetName(const std::string& policy, const std::string& rule_lower,
                              bool per_ip, const std::string& egress, size_t tier) {
  if (per_ip) {
    return absl::StrCat("poe/", policy, "/", rule_lower, "/", egress.empty() ? "unknown" : egress,
                        "/", tier);
  }
  return absl::StrCat("poe/", policy, "/", rule_lower, "/", tier);
}

bool RouteMap::SetEsiGroup(const std::string& route, const std::string& group) {
  auto [it, inserted] = esi_routes_.emplace(route, group);
  if (!inserted) {
    if (it->second == group) return false;
    it->second = group;
  }
  ++generation_;
  return true;
}

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

namespace {

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

}  // namespace

bool RouteMap::SetPoeRules(const std::string& policy, std::vector<PoeRuleShape> rules) {
  auto it = poe_policies_.find(policy);
  if (it != poe_policies_.end() && SameShape(it->second, rules)) return false;
  poe_policies_[policy] = std::move(rules);
  ++generation_;
  return true;
}

const std::string* RouteMap::EsiGroupOf(const std::string& route) const {
  auto it = esi_routes_.find(route);
  return it == esi_routes_.end() ? nullptr : &it->second;
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

std::vector<BudgetSpec> RouteMap::Resolve(const CallKey& key) const {
  std::vector<BudgetSpec> out;
  if (key.upstream == Upstream::kEsi) {
    const std::string* group = EsiGroupOf(key.route);
    if (group != nullptr) {
      BudgetSpec spec;
      spec.name = EsiGroupBudgetName(*group);
      spec.kind = BudgetKind::kEsiGroup;
      if (const WindowLimit* limit = EsiGroupLimit(*group)) {
        spec.limit = *limit;
        spec.learned = true;
      } else {
        spec.limit = defaults_.esi_route;  // group named, limit header malformed so far
      }
      out.push_back(std::move(spec));
    } else {
      out.push_back(BudgetSpec{EsiRouteBudgetName(key.route), BudgetKind::kEsiRoute,
                               defaults_.esi_route, Duration{}, false});
    }
    out.push_back(BudgetSpec{kEsiErrorsBudget, BudgetKind::kEsiErrors,
                             WindowLimit{defaults_.esi_error_limit, defaults_.esi_error_window},
                             Duration{}, false});
    return out;
  }
  const std::string* policy = PoePolicyOf(key.route);
  const std::vector<PoeRuleShape>* rules = policy ? PoeRules(*policy) : nullptr;
  if (rules == nullptr || rules->empty()) {
    out.push_back(BudgetSpec{PoeRouteBudgetName(key.route), BudgetKind::kPoeRoute,
                             defaults_.poe_route, Duration{}, false});
    return out;
  }
  for (const PoeRuleShape& rule : *rules) {
    for (size_t i = 0; i < rule.tiers.size(); ++i) {
      out.push_back(BudgetSpec{PoeTierBudgetName(*policy, rule.lower, rule.per_ip(), key.egress, i),
                               BudgetKind::kPoeTier, rule.tiers[i].limit, rule.tiers[i].penalty,
                               true});
    }
  }
  return out;
}

}  // namespace sluice::throttle
