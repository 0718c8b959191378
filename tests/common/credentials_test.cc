// The credential file: digests only, names and roles checked line by line,
// team limits, constant-time lookup by the token's digest.
#include "common/credentials.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

std::string Line(const std::string& name, const std::string& role, const std::string& token,
                 const std::string& options = "") {
  return name + " " + role + " " + Sha256Text(token) + (options.empty() ? "" : " " + options) +
         "\n";
}

TEST(CredentialsTest, Sha256TextIsTheStandardDigest) {
  // printf %s abc | sha256sum
  EXPECT_EQ(Sha256Text("abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(CredentialsTest, FindsEachCredentialByItsTokenAndNothingElse) {
  auto set = CredentialSet::Parse("# comment\n\n" + Line("agents", "agent", "tok-a") +
                                  Line("alice", "operator", "tok-o") + "  # trailing\n" +
                                  Line("market", "team", "tok-t", "upstreams=esi"));
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->size(), 3u);
  const Principal* a = set->Find("tok-a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name, "agents");
  EXPECT_TRUE(a->roles.Has(Role::kAgent));
  EXPECT_FALSE(a->roles.Has(Role::kOperator));
  EXPECT_EQ(set->Find("tok-o")->name, "alice");
  EXPECT_EQ(set->Find("tok-t")->upstreams, std::vector<std::string>{"esi"});
  EXPECT_EQ(set->Find("tok-x"), nullptr);
  EXPECT_EQ(set->Find(""), nullptr);
  EXPECT_EQ(set->Find(Sha256Text("tok-a")), nullptr) << "the digest itself is no credential";
}

TEST(CredentialsTest, BadLinesAreRefusedNamingTheLineAndNeverTheDigest) {
  const std::string digest = Sha256Text("secret");
  struct Case {
    std::string text;
    std::string says;
  } cases[] = {
      {"a agent\n", "line 1"},
      {"\nbad/name agent " + digest + "\n", "line 2: the name"},
      {"a admin " + digest + "\n", "unknown role 'admin'"},
      {"a agent plaintext-token\n", "sha256:"},
      {"a agent sha256:abcd\n", "64 hex"},
      {"a agent " + digest + " upstreams=esi\n", "limit a team"},
      {"a team " + digest + " colour=blue\n", "unknown option"},
      {"a team " + digest + " upstreams=\n", "empty list"},
      {Line("a", "agent", "x") + Line("a", "operator", "y"), "line 2: the name 'a' is used twice"},
      {Line("a", "agent", "x") + Line("b", "operator", "x"), "same credential as 'a'"},
  };
  for (const Case& c : cases) {
    auto set = CredentialSet::Parse(c.text);
    ASSERT_FALSE(set.ok()) << c.text;
    EXPECT_EQ(set.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(set.status().message().find(c.says), std::string::npos)
        << set.status().message() << " (wanted '" << c.says << "')";
    EXPECT_EQ(set.status().message().find(digest.substr(7, 16)), std::string::npos)
        << set.status().message();
  }
}

TEST(CredentialsTest, ATeamIsLimitedToItsUpstreamsAndRoutePrefixes) {
  auto set = CredentialSet::Parse(
      Line("market", "team", "t1", "upstreams=esi routes=/markets/,/universe/types/") +
      Line("anything", "team", "t2"));
  ASSERT_TRUE(set.ok()) << set.status();
  const Principal* market = set->Find("t1");
  EXPECT_TRUE(market->CheckRoute("esi", "/markets/{region_id}/orders/").ok());
  EXPECT_TRUE(market->CheckRoute("esi", "/universe/types/{type_id}/").ok());
  absl::Status other_route = market->CheckRoute("esi", "/characters/{id}/");
  EXPECT_EQ(other_route.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(other_route.message().find("'market'"), std::string::npos) << other_route;
  absl::Status other_upstream = market->CheckRoute("poe", "/markets/x");
  EXPECT_EQ(other_upstream.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(other_upstream.message().find("upstreams esi"), std::string::npos) << other_upstream;
  EXPECT_TRUE(set->Find("t2")->CheckRoute("poe", "/public-stash-tabs").ok());
}

TEST(CredentialsTest, TheSharedTokenHoldsEveryRole) {
  CredentialSet set;
  ASSERT_TRUE(set.AddSharedToken("dev-token").ok());
  const Principal* p = set.Find("dev-token");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->roles, RoleSet::All());
  EXPECT_EQ(p->name, "auth_token");
}

}  // namespace
}  // namespace sluice
