// JWT claims as EVE SSO's access tokens carry them (exp, sub, scp), and the
// clear refusals of what is not such a token.
#include "common/jwt_claims.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "common/caller.h"

namespace sluice {
namespace {

std::string Jwt(const std::string& payload) {
  return "eyJhbGciOiJSUzI1NiJ9." + absl::WebSafeBase64Escape(payload) + ".c2ln";
}

TEST(JwtClaimsTest, ReadsExpSubjectAndAnArrayOfScopes) {
  auto c = ParseJwtClaims(Jwt(
      R"({"sub":"CHARACTER:EVE:2112000001","exp":1764990000,"scp":["a.v1","b.v1"],"iss":"x"})"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->subject, "CHARACTER:EVE:2112000001");
  ASSERT_TRUE(c->expires.has_value());
  EXPECT_EQ(ToUnixSeconds(*c->expires), 1764990000.0);
  EXPECT_EQ(c->scopes, (std::vector<std::string>{"a.v1", "b.v1"}));
  EXPECT_EQ(EveCharacterOfSubject(c->subject), 2112000001);
}

TEST(JwtClaimsTest, OneScopeComesAsAString) {
  // EVE sends scp as a string when one scope was granted.
  auto c = ParseJwtClaims(Jwt(R"({"scp":"esi-killmails.read_killmails.v1","exp":1})"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->scopes, (std::vector<std::string>{"esi-killmails.read_killmails.v1"}));
}

TEST(JwtClaimsTest, AbsentClaimsAreEmpty) {
  auto c = ParseJwtClaims(Jwt("{}"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->expires.has_value());
  EXPECT_TRUE(c->subject.empty());
  EXPECT_TRUE(c->scopes.empty());
}

TEST(JwtClaimsTest, RefusesWhatIsNotAJwtSayingWhy) {
  struct Case {
    std::string token;
    std::string says;
  };
  const Case cases[] = {
      {"opaque-token", "three dot-separated parts"},
      {"a.b.c.d", "three dot-separated parts"},
      {"a.!!!.c", "not base64url"},
      {"a..c", "not base64url"},
      {Jwt("[1,2]"), "not a JSON object"},
      {Jwt("{nope"), "not a JSON object"},
      {Jwt(R"({"exp":"soon"})"), "exp is not a positive unix time"},
      {Jwt(R"({"exp":-5})"), "exp is not a positive unix time"},
      {Jwt(R"({"exp":1e300})"), "exp is not a positive unix time"},
      // Found by fuzz_caller: below the old bound of 1e11 s, past what a TimePoint holds.
      {Jwt(R"({"exp":35930400000})"), "exp is not a positive unix time before 2262"},
      {Jwt(R"({"sub":7})"), "sub is not a string"},
      {Jwt(R"({"scp":7})"), "neither a string nor an array"},
      {Jwt(R"({"scp":["a",7]})"), "not a string"},
  };
  for (const Case& c : cases) {
    auto parsed = ParseJwtClaims(c.token);
    ASSERT_FALSE(parsed.ok()) << c.token;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(c.says), std::string::npos)
        << c.token << ": " << parsed.status().message();
  }
}

TEST(JwtClaimsTest, SubjectNamesACharacterOnlyInEveSpelling) {
  EXPECT_EQ(EveCharacterOfSubject("CHARACTER:EVE:90000001"), 90000001);
  EXPECT_EQ(EveCharacterOfSubject("EVE:CHARACTER:90000001"), 90000001);
  EXPECT_EQ(EveCharacterOfSubject("CHARACTER:EVE:-3"), std::nullopt);
  EXPECT_EQ(EveCharacterOfSubject("CHARACTER:EVE:x"), std::nullopt);
  EXPECT_EQ(EveCharacterOfSubject("CORPORATION:EVE:98000001"), std::nullopt);
  EXPECT_EQ(EveCharacterOfSubject(""), std::nullopt);
}

TEST(JwtClaimsTest, EsiTokenCharacterReadsTheSameClaims) {
  EXPECT_EQ(EsiTokenCharacter(Jwt(R"({"sub":"CHARACTER:EVE:42"})")), 42);
  EXPECT_EQ(EsiTokenCharacter("sim-token"), std::nullopt);
}

}  // namespace
}  // namespace sluice
