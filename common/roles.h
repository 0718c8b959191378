// Roles and the one table of which role may call which gRPC method.
//
//   agent     runs tasks: AgentService, and the throttler calls agents make
//             (LeaseTokens, ArmTokens, ReportBatch, WatchRevocations)
//   operator  everything: AdminService, KillmailAdminService, StreamService,
//             ThrottlerService.ClearRestriction, and every other method
//   team      the throttler's public decisions only (NextPermitted, Acquire,
//             Report, ListBudgets and their batch and stream forms),
//             optionally limited to upstreams and routes (credentials.h)
//
// The table is keyed by full method name ("/sluice.v1.AgentService/
// LeaseTasks"). A sluice.v1 method missing from it is refused to every role
// (default deny; tests/common/roles_test.cc checks that every method of every
// Sluice service is listed). Health checking and server reflection are open:
// probes and grpcurl's `list` need no credential.
//
// Thread-safety: pure functions over constant data.
#ifndef SLUICE_COMMON_ROLES_H_
#define SLUICE_COMMON_ROLES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace sluice {

enum class Role : uint8_t { kAgent = 1, kOperator = 2, kTeam = 4 };

class RoleSet {
 public:
  constexpr RoleSet() = default;
  constexpr RoleSet(std::initializer_list<Role> roles) {
    for (Role r : roles) bits_ |= static_cast<uint8_t>(r);
  }
  static constexpr RoleSet All() { return {Role::kAgent, Role::kOperator, Role::kTeam}; }
  bool Has(Role r) const { return (bits_ & static_cast<uint8_t>(r)) != 0; }
  bool Intersects(RoleSet o) const { return (bits_ & o.bits_) != 0; }
  bool empty() const { return bits_ == 0; }
  bool operator==(RoleSet o) const { return bits_ == o.bits_; }
  // "agent", "agent+team", "agent+operator+team".
  std::string ToString() const;

 private:
  uint8_t bits_ = 0;
};

const char* RoleName(Role role);
std::optional<Role> ParseRole(absl::string_view name);

enum class MethodAccess {
  kOpen,     // no credential needed (health, reflection)
  kRoles,    // a credential holding one of the listed roles
  kUnknown,  // not in the table: refused to everyone
};

struct MethodRule {
  MethodAccess access = MethodAccess::kUnknown;
  RoleSet roles;  // for kRoles
};

// The rule for a full method name ("/package.Service/Method").
MethodRule RuleForMethod(absl::string_view full_method);

// The whole table (kRoles entries), for tests and documentation.
const std::map<std::string, RoleSet>& MethodRoleTable();

}  // namespace sluice

#endif  // SLUICE_COMMON_ROLES_H_
