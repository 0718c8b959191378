// The OAuth token endpoint client: how answers are read and classified
// (pure), and the real exchanges against the simulator's EVE SSO and GGG
// token endpoints over HTTP (refresh-token rotation, revocation, outage,
// client credentials, a wrong secret).
#include "server/oauth/token_endpoint.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "common/jwt_claims.h"
#include "server/oauth/service_token.h"
#include "sim/simulator.h"

namespace sluice::oauth {
namespace {

TEST(ParseTokenResponseTest, ReadsATokenResponse) {
  auto g = ParseTokenResponse(
      200, R"({"access_token":"a.b.c","token_type":"Bearer","expires_in":1199,)"
           R"("refresh_token":"r1","scope":"x y"})");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->access_token, "a.b.c");
  EXPECT_EQ(g->refresh_token, "r1");
  ASSERT_TRUE(g->expires_in.has_value());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(*g->expires_in).count(), 1199);
  EXPECT_EQ(g->scopes, (std::vector<std::string>{"x", "y"}));
}

TEST(ParseTokenResponseTest, ANullExpiryIsNoExpiry) {
  auto g = ParseTokenResponse(200, R"({"access_token":"t","token_type":"bearer","expires_in":null})");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_FALSE(g->expires_in.has_value());
  EXPECT_TRUE(g->refresh_token.empty());
}

TEST(ParseTokenResponseTest, ClassifiesRefusals) {
  auto dead = ParseTokenResponse(
      400, R"({"error":"invalid_grant","error_description":"Invalid refresh token."})");
  EXPECT_EQ(dead.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(dead.status().message(), "invalid_grant: Invalid refresh token.");
  auto client = ParseTokenResponse(401, R"({"error":"invalid_client"})");
  EXPECT_EQ(client.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(client.status().message().find("invalid_client"), std::string::npos);
  auto html = ParseTokenResponse(403, "<html>denied</html>");
  EXPECT_EQ(html.status().code(), absl::StatusCode::kPermissionDenied);
  for (int status : {500, 502, 503, 429}) {
    auto s = ParseTokenResponse(status, R"({"error":"temporarily_unavailable"})");
    EXPECT_EQ(s.status().code(), absl::StatusCode::kUnavailable) << status;
    EXPECT_TRUE(IsTransientTokenError(s.status()));
  }
  EXPECT_FALSE(IsTransientTokenError(dead.status()));
  EXPECT_FALSE(IsTransientTokenError(client.status()));
}

TEST(ParseTokenResponseTest, RefusesA2xxThatIsNoTokenResponse) {
  struct Case {
    std::string body;
    std::string says;
  };
  const Case cases[] = {
      {"<html>proxy</html>", "not a JSON object"},
      {"[]", "not a JSON object"},
      {R"({"token_type":"Bearer"})", "access_token missing"},
      {R"({"access_token":""})", "access_token missing"},
      {R"({"access_token":7})", "access_token missing"},
      {R"({"access_token":"two words"})", "printable ASCII"},
      {R"({"access_token":"t","token_type":"mac"})", "is not Bearer"},
      {R"({"access_token":"t","expires_in":-1})", "expires_in"},
      {R"({"access_token":"t","expires_in":"20m"})", "expires_in"},
      {R"({"access_token":"t","refresh_token":5})", "refresh_token is not a string"},
  };
  for (const Case& c : cases) {
    auto g = ParseTokenResponse(200, c.body);
    ASSERT_FALSE(g.ok()) << c.body;
    EXPECT_EQ(g.status().code(), absl::StatusCode::kDataLoss) << c.body;
    EXPECT_NE(g.status().message().find(c.says), std::string::npos)
        << c.body << ": " << g.status().message();
    EXPECT_TRUE(IsTransientTokenError(g.status()));
  }
}

TEST(FormEncodeTest, EncodesReservedCharacters) {
  EXPECT_EQ(FormEncode({{"grant_type", "refresh_token"}, {"scope", "a b"}, {"x", "1+2/3=&"}}),
            "grant_type=refresh_token&scope=a+b&x=1%2B2%2F3%3D%26");
}

TEST(TokenEndpointClientTest, RefusesAConfigurationThatCannotWork) {
  TokenEndpointConfig c;
  c.token_url = "ftp://login.eveonline.com/v2/oauth/token";
  c.client_id = "id";
  c.client_secret = "secret";
  EXPECT_EQ(TokenEndpointClient::Create(c).status().code(), absl::StatusCode::kInvalidArgument);
  c.token_url = "https://login.eveonline.com/v2/oauth/token";
  c.client_secret = "";
  EXPECT_EQ(TokenEndpointClient::Create(c).status().code(), absl::StatusCode::kInvalidArgument);
}

class SimulatedEndpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::SimConfig sc;
    sc.universe.alliances = 2;
    sc.universe.corporations = 4;
    sc.universe.characters = 20;
    sc.sso_token_lifetime_s = 1200;
    sc.poe_token_lifetime_s = 60;
    sim_ = std::make_unique<sim::Simulator>(sc);
    ASSERT_TRUE(sim_->Start(0).ok());
  }
  void TearDown() override { sim_->Stop(); }

  std::unique_ptr<TokenEndpointClient> Client(const std::string& path, const std::string& id,
                                              const std::string& secret, ClientAuth auth) {
    TokenEndpointConfig c;
    c.token_url = sim_->base_url() + path;
    c.client_id = id;
    c.client_secret = secret;
    c.auth = auth;
    c.user_agent = "token-endpoint-test (+contact: test@sluice.invalid)";
    auto client = TokenEndpointClient::Create(c);
    EXPECT_TRUE(client.ok()) << client.status();
    return std::move(*client);
  }
  nlohmann::json Post(const std::string& path) {
    httplib::Client client("127.0.0.1", sim_->port());
    auto r = client.Post(path.c_str(), "", "application/json");
    EXPECT_TRUE(r && r->status == 200) << path;
    return r ? nlohmann::json::parse(r->body) : nlohmann::json();
  }

  std::unique_ptr<sim::Simulator> sim_;
};

TEST_F(SimulatedEndpointsTest, RefreshRotatesTheRefreshTokenAndRevocationEndsIt) {
  auto sso = Client("/v2/oauth/token", "sim-eve-client", "sim-eve-secret", ClientAuth::kBasic);
  const std::string first = Post("/sim/sso/grant?character_id=2112000005")["refresh_token"];
  auto g = sso->Refresh(first);
  ASSERT_TRUE(g.ok()) << g.status();
  auto claims = ParseJwtClaims(g->access_token);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "CHARACTER:EVE:2112000005");
  EXPECT_EQ(claims->scopes, (std::vector<std::string>{"esi-killmails.read_killmails.v1"}));
  ASSERT_TRUE(claims->expires.has_value());
  EXPECT_NE(g->refresh_token, first);
  // The token used is spent; the rotated one works.
  EXPECT_EQ(sso->Refresh(first).status().code(), absl::StatusCode::kFailedPrecondition);
  auto again = sso->Refresh(g->refresh_token);
  ASSERT_TRUE(again.ok()) << again.status();

  Post("/sim/sso/revoke?character_id=2112000005");
  auto revoked = sso->Refresh(again->refresh_token);
  EXPECT_EQ(revoked.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(revoked.status().message().find("invalid_grant"), std::string::npos);
}

TEST_F(SimulatedEndpointsTest, WrongSecretIsAClientErrorAndAnOutageIsTransient) {
  auto wrong = Client("/v2/oauth/token", "sim-eve-client", "guess", ClientAuth::kBasic);
  const std::string rt = Post("/sim/sso/grant?character_id=2112000006")["refresh_token"];
  auto refused = wrong->Refresh(rt);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(refused.status().message().find("guess"), std::string::npos) << "secret echoed";

  auto sso = Client("/v2/oauth/token", "sim-eve-client", "sim-eve-secret", ClientAuth::kBasic);
  Post("/sim/sso/outage?seconds=30");
  auto down = sso->Refresh(rt);
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(IsTransientTokenError(down.status()));
  Post("/sim/sso/outage?seconds=0");
  EXPECT_TRUE(sso->Refresh(rt).ok()) << "the refresh token survives an outage";
}

TEST_F(SimulatedEndpointsTest, PoeServiceTokenIsFetchedWithItsScopes) {
  std::shared_ptr<const TokenEndpointClient> poe =
      Client("/oauth/token", "sim-poe-client", "sim-poe-secret", ClientAuth::kFormBody);
  auto g = poe->ClientCredentials({"service:psapi", "service:cxapi"});
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->scopes, (std::vector<std::string>{"service:psapi", "service:cxapi"}));
  ASSERT_TRUE(g->expires_in.has_value());
  EXPECT_EQ(poe->ClientCredentials({"account:stashes"}).status().code(),
            absl::StatusCode::kPermissionDenied);

  ServiceTokenSource source(poe, {"service:psapi"}, SystemClock::Get());
  std::string problem;
  EXPECT_FALSE(source.Current(&problem).has_value());
  EXPECT_NE(problem.find("no PoE service token"), std::string::npos);
  ASSERT_TRUE(source.FetchNow().ok());
  auto current = source.Current();
  ASSERT_TRUE(current.has_value());
  EXPECT_EQ(source.fetches(), 1);
}

}  // namespace
}  // namespace sluice::oauth
