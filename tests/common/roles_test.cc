// The method table (common/roles.h) is the one home of "which role may call
// which method": every rpc of every service in protos/sluice/v1 must be in it
// (default deny would otherwise refuse a new method to everyone, operators
// included), health and reflection stay open, and anything else is refused.
#include "common/roles.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace sluice {
namespace {

// Full method names of every rpc in every .proto under protos/sluice/v1,
// read from the sources (so a service the binaries do not link is seen too).
std::set<std::string> ProtoMethods() {
  std::set<std::string> out;
  const std::regex package_re(R"(^\s*package\s+([\w.]+)\s*;)");
  const std::regex service_re(R"(^\s*service\s+(\w+))");
  const std::regex rpc_re(R"(^\s*rpc\s+(\w+)\s*\()");
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(SLUICE_SOURCE_DIR) + "/protos/sluice/v1")) {
    if (entry.path().extension() != ".proto") continue;
    std::ifstream in(entry.path());
    std::string line, package, service;
    while (std::getline(in, line)) {
      std::smatch m;
      if (std::regex_search(line, m, package_re)) package = m[1];
      if (std::regex_search(line, m, service_re)) service = m[1];
      if (std::regex_search(line, m, rpc_re)) {
        EXPECT_FALSE(service.empty()) << entry.path() << ": rpc outside a service";
        out.insert("/" + package + "." + service + "/" + std::string(m[1]));
      }
    }
  }
  return out;
}

TEST(RolesTest, EveryMethodOfEverySluiceServiceIsInTheTable) {
  const std::set<std::string> methods = ProtoMethods();
  ASSERT_GT(methods.size(), 20u) << "the protos were not found under " << SLUICE_SOURCE_DIR;
  for (const std::string& method : methods) {
    const MethodRule rule = RuleForMethod(method);
    EXPECT_EQ(rule.access, MethodAccess::kRoles) << method << " is missing from the role table";
    EXPECT_TRUE(rule.roles.Has(Role::kOperator)) << method << ": operators may call everything";
  }
}

TEST(RolesTest, EveryTableEntryNamesAMethodOfTheProtos) {
  const std::set<std::string> methods = ProtoMethods();
  for (const auto& [method, roles] : MethodRoleTable()) {
    EXPECT_EQ(methods.count(method), 1u) << method << " is in the table but in no proto";
  }
}

TEST(RolesTest, AgentsTeamsAndOperatorsGetTheirOwnMethodsOnly) {
  auto roles = [](const char* m) { return RuleForMethod(m).roles; };
  EXPECT_EQ(roles("/sluice.v1.AgentService/LeaseTasks"), (RoleSet{Role::kAgent, Role::kOperator}));
  EXPECT_EQ(roles("/sluice.v1.ThrottlerService/WatchRevocations"),
            (RoleSet{Role::kAgent, Role::kOperator}));
  EXPECT_EQ(roles("/sluice.v1.ThrottlerService/Acquire"), (RoleSet{Role::kTeam, Role::kOperator}));
  EXPECT_EQ(roles("/sluice.v1.ThrottlerService/ClearRestriction"), RoleSet{Role::kOperator});
  EXPECT_EQ(roles("/sluice.v1.AdminService/Enqueue"), RoleSet{Role::kOperator});
  EXPECT_EQ(roles("/sluice.v1.KillmailAdminService/RegisterCharacterToken"),
            RoleSet{Role::kOperator});
}

TEST(RolesTest, HealthAndReflectionAreOpenAndUnknownMethodsAreRefused) {
  EXPECT_EQ(RuleForMethod("/grpc.health.v1.Health/Check").access, MethodAccess::kOpen);
  EXPECT_EQ(RuleForMethod("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo").access,
            MethodAccess::kOpen);
  EXPECT_EQ(RuleForMethod("/sluice.v1.AdminService/DropEverything").access, MethodAccess::kUnknown);
  EXPECT_EQ(RuleForMethod("").access, MethodAccess::kUnknown);
}

TEST(RolesTest, RoleNamesRoundTrip) {
  for (Role r : {Role::kAgent, Role::kOperator, Role::kTeam}) {
    EXPECT_EQ(ParseRole(RoleName(r)), r);
  }
  EXPECT_FALSE(ParseRole("admin").has_value());
  EXPECT_EQ(RoleSet::All().ToString(), "agent+operator+team");
}

}  // namespace
}  // namespace sluice
