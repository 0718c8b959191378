#include "agent/handlers/handler_registry.h"

#include <glog/logging.h>

#include "common/caller.h"

namespace sluice::agent {

void HandlerSet::Add(BoundHandler bound) {
  std::string kind = bound.kind;
  CHECK(by_kind_.emplace(kind, std::move(bound)).second) << "duplicate handler kind " << kind;
}

const BoundHandler* HandlerSet::Find(const std::string& kind) const {
  auto it = by_kind_.find(kind);
  return it == by_kind_.end() ? nullptr : &it->second;
}

std::vector<std::string> HandlerSet::Kinds() const {
  std::vector<std::string> kinds;
  for (const auto& [kind, bound] : by_kind_) kinds.push_back(kind);
  return kinds;
}

Route RouteFor(const BoundHandler& bound, const sluice::v1::Task& task) {
  if (bound.billing == Billing::kTaskCaller) return bound.route.BilledTo(task.caller());
  return bound.route;
}

std::string AgentTokenCaller(const std::string& esi_token) {
  if (std::optional<int64_t> character = EsiTokenCharacter(esi_token)) {
    return EsiCharacterCaller(*character);
  }
  return "token";
}

void HandlerRegistry::Register(HandlerSpec spec) {
  CHECK(!spec.kind.empty()) << "handler registered without a kind";
  CHECK(spec.factory) << "handler " << spec.kind << " has no factory";
  std::string kind = spec.kind;
  CHECK(specs_.emplace(kind, std::move(spec)).second) << "handler kind registered twice: " << kind;
}

const HandlerSpec* HandlerRegistry::Find(const std::string& kind) const {
  auto it = specs_.find(kind);
  return it == specs_.end() ? nullptr : &it->second;
}

std::vector<std::string> HandlerRegistry::Kinds() const {
  std::vector<std::string> kinds;
  for (const auto& [kind, spec] : specs_) kinds.push_back(kind);
  return kinds;
}

HandlerSet HandlerRegistry::Instantiate(const HandlerConfig& config) const {
  HandlerSet set;
  for (const auto& [kind, spec] : specs_) {
    if (spec.enabled && !spec.enabled(config)) continue;
    Route route = spec.route;
    if (spec.billing == Billing::kAgentToken) route.caller = AgentTokenCaller(config.esi_token);
    set.Add(BoundHandler{kind, std::move(route), spec.factory(config), spec.billing});
  }
  return set;
}

}  // namespace sluice::agent
