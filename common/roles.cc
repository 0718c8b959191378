#include "common/roles.h"

#include <set>

#include "absl/container/flat_hash_map.h"

namespace sluice {
namespace {

constexpr RoleSet kAgentOnly{Role::kAgent, Role::kOperator};
constexpr RoleSet kTeamApi{Role::kTeam, Role::kOperator};
constexpr RoleSet kOperatorOnly{Role::kOperator};

const std::set<std::string, std::less<>>& OpenMethods() {
  static const auto* open = new std::set<std::string, std::less<>>{
      "/grpc.health.v1.Health/Check",
      "/grpc.health.v1.Health/Watch",
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
  };
  return *open;
}

}  // namespace

std::string RoleSet::ToString() const {
  std::string out;
  for (Role r : {Role::kAgent, Role::kOperator, Role::kTeam}) {
    if (!Has(r)) continue;
    if (!out.empty()) out += '+';
    out += RoleName(r);
  }
  return out.empty() ? "none" : out;
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kAgent:
      return "agent";
    case Role::kOperator:
      return "operator";
    case Role::kTeam:
      return "team";
  }
  return "?";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role r : {Role::kAgent, Role::kOperator, Role::kTeam}) {
    if (name == RoleName(r)) return r;
  }
  return std::nullopt;
}

const std::map<std::string, RoleSet>& MethodRoleTable() {
  static const auto* table = new std::map<std::string, RoleSet>{
      // Agents run tasks.
      {"/sluice.v1.AgentService/LeaseTasks", kAgentOnly},
      {"/sluice.v1.AgentService/ExtendLease", kAgentOnly},
      {"/sluice.v1.AgentService/CompleteTask", kAgentOnly},
      {"/sluice.v1.AgentService/CompleteTasks", kAgentOnly},
      {"/sluice.v1.AgentService/FailTask", kAgentOnly},
      // The throttler as agents use it: leases of rate tokens, reports of
      // what the upstream answered, revocations.
      {"/sluice.v1.ThrottlerService/LeaseTokens", kAgentOnly},
      {"/sluice.v1.ThrottlerService/ArmTokens", kAgentOnly},
      {"/sluice.v1.ThrottlerService/ReportBatch", kAgentOnly},
      {"/sluice.v1.ThrottlerService/WatchRevocations", kAgentOnly},
      // The throttler's public API for other teams.
      {"/sluice.v1.ThrottlerService/NextPermitted", kTeamApi},
      {"/sluice.v1.ThrottlerService/Acquire", kTeamApi},
      {"/sluice.v1.ThrottlerService/Report", kTeamApi},
      {"/sluice.v1.ThrottlerService/ListBudgets", kTeamApi},
      {"/sluice.v1.ThrottlerService/NextPermittedBatch", kTeamApi},
      {"/sluice.v1.ThrottlerService/AcquireBatch", kTeamApi},
      {"/sluice.v1.ThrottlerService/Decide", kTeamApi},
      // Lifting a restriction is an operator's decision.
      {"/sluice.v1.ThrottlerService/ClearRestriction", kOperatorOnly},
      // Operators drive the queue, the jobs, the tokens and the streams.
      {"/sluice.v1.AdminService/Enqueue", kOperatorOnly},
      {"/sluice.v1.AdminService/QueueStatus", kOperatorOnly},
      {"/sluice.v1.AdminService/StartDaily", kOperatorOnly},
      {"/sluice.v1.AdminService/FinishDaily", kOperatorOnly},
      {"/sluice.v1.AdminService/EntityCounts", kOperatorOnly},
      {"/sluice.v1.AdminService/Migrate", kOperatorOnly},
      {"/sluice.v1.AdminService/ListJobRuns", kOperatorOnly},
      {"/sluice.v1.AdminService/RunJob", kOperatorOnly},
      {"/sluice.v1.KillmailAdminService/RegisterCharacterToken", kOperatorOnly},
      {"/sluice.v1.KillmailAdminService/ListCharacterTokens", kOperatorOnly},
      {"/sluice.v1.KillmailAdminService/RekeyCharacterTokens", kOperatorOnly},
      {"/sluice.v1.StreamService/ListCheckpoints", kOperatorOnly},
      {"/sluice.v1.StreamService/GetIngestStatus", kOperatorOnly},
      {"/sluice.v1.StreamService/ListAlerts", kOperatorOnly},
  };
  return *table;
}

MethodRule RuleForMethod(absl::string_view full_method) {
  // Asked on every call: one hash lookup over the open methods and the table
  // together, without building a string.
  static const auto* rules = [] {
    auto* m = new absl::flat_hash_map<std::string, MethodRule>();
    for (const auto& [method, roles] : MethodRoleTable()) {
      m->emplace(method, MethodRule{MethodAccess::kRoles, roles});
    }
    for (const std::string& method : OpenMethods()) {
      (*m)[method] = MethodRule{MethodAccess::kOpen, {}};
    }
    return m;
  }();
  auto it = rules->find(full_method);
  return it == rules->end() ? MethodRule{} : it->second;
}

}  // namespace sluice
