// EVE SSO refresh tokens end to end: the simulator's SSO (short-lived JWT
// access tokens, rotating refresh tokens, revocation, outages) over real
// HTTP, an in-process coordinator whose SsoRefresher keeps the tokens valid,
// an agent syncing killmails with the tokens it is handed over real gRPC, and
// a real PostgreSQL. The access tokens live 6 seconds here (EVE: 20 minutes),
// so "past three lifetimes" takes under half a minute.
#include <gtest/gtest.h>

#include <functional>

#include "common/rfc3339.h"
#include "server/oauth/token_endpoint.h"
#include "tests/server/workflows/killmails/killmail_test_util.h"
#include "tests/support/child_process.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kLifetimeS = 6;

class SsoRefresherTest : public KillmailFixture {
 protected:
  void AdjustSimConfig(sim::SimConfig& sc) override {
    sc.sso_token_lifetime_s = kLifetimeS;
    // A list is not read again before its Expires: short, so a character is
    // re-synced within each token lifetime.
    sc.cache_killmail_recent_seconds = 2;
  }
  // Tokens must really expire: the simulator runs on the wall clock.
  const Clock* SimClock() override { return SystemClock::Get(); }

  CoordinatorOptions CoordinatorOptionsForTest() override {
    CoordinatorOptions co = KillmailFixture::CoordinatorOptionsForTest();
    // The simulator's port is known by now (SetUp starts it first).
    oauth::TokenEndpointConfig c;
    c.token_url = sim_->base_url() + "/v2/oauth/token";
    c.client_id = "sim-eve-client";
    c.client_secret = "sim-eve-secret";
    c.auth = oauth::ClientAuth::kBasic;
    c.user_agent = "sluice-coordinator/test (+contact: sso-test@sluice.invalid)";
    auto client = oauth::TokenEndpointClient::Create(c);
    EXPECT_TRUE(client.ok()) << client.status();
    co.workflows.killmails.eve_sso = std::shared_ptr<const oauth::TokenEndpointClient>(
        std::move(*client));
    co.workflows.killmails.refresher.poll = milliseconds(200);
    co.workflows.killmails.refresher.backoff_base = milliseconds(500);
    co.workflows.killmails.refresher.backoff_max = seconds(2);
    return co;
  }

  // What the player's consent would give the application.
  std::string Grant(int64_t character, const std::string& scopes = "") {
    auto r = SimPost("/sim/sso/grant?character_id=" + std::to_string(character) +
                     (scopes.empty() ? "" : "&scopes=" + scopes));
    EXPECT_TRUE(r && r->status == 200);
    return r ? nlohmann::json::parse(r->body)["refresh_token"].get<std::string>() : "";
  }

  grpc::Status AddRefreshToken(int64_t character, const std::string& refresh_token,
                               v1::RegisterCharacterTokenResponse* resp = nullptr) {
    v1::RegisterCharacterTokenRequest req;
    req.set_character_id(character);
    req.set_refresh_token(refresh_token);
    v1::RegisterCharacterTokenResponse local;
    grpc::ClientContext ctx;
    return tokens_->RegisterCharacterToken(&ctx, req, resp != nullptr ? resp : &local);
  }

  v1::CharacterTokenInfo Info(int64_t character) {
    v1::ListCharacterTokensRequest req;
    req.add_character_ids(character);
    v1::ListCharacterTokensResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = tokens_->ListCharacterTokens(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.tokens_size() == 1 ? resp.tokens(0) : v1::CharacterTokenInfo();
  }

  int64_t Stored(int64_t character) {
    return db_.Count("SELECT count(*) FROM character_killmails WHERE character_id = " +
                     std::to_string(character));
  }

  int64_t OAuthStat(const std::string& a, const std::string& b = "", const std::string& c = "") {
    nlohmann::json j = sim_->Stats()["oauth"][a];
    if (!b.empty()) j = j[b];
    if (!c.empty()) j = j[c];
    return j.get<int64_t>();
  }

  // Queues the characters' sync every second (as the killmail_sync job does
  // with a short interval) until `done` or the timeout.
  bool SyncUntil(const std::vector<int64_t>& characters, const std::function<bool()>& done,
                 seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      EnqueueSync(characters);
      if (done()) return true;
      std::this_thread::sleep_for(seconds(1));
    }
    return done();
  }
};

TEST_F(SsoRefresherTest, KillmailSyncKeepsRunningPastThreeAccessTokenLifetimes) {
  StartAgent();
  // Four characters authorize the application now; the first is synced at
  // once, each next one a token lifetime later, the last past three
  // lifetimes: its sync can only work with a token refreshed three times.
  // (A character whose list was read is not read again before its Expires,
  // so each lifetime syncs a character of its own.)
  const std::vector<int64_t> chars = {characters_[5], characters_[6], characters_[15],
                                      characters_[16]};
  for (int64_t ch : chars) {
    v1::RegisterCharacterTokenResponse added;
    grpc::Status s = AddRefreshToken(ch, Grant(ch), &added);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(added.created());
    ASSERT_EQ(added.scopes_size(), 1);
    EXPECT_EQ(added.scopes(0), "esi-killmails.read_killmails.v1");
    // The JWT's exp, not a guess: within the simulator's lifetime from now.
    EXPECT_LE(FromProto(added.expires_at()),
              std::chrono::system_clock::now() + seconds(kLifetimeS + 1));
  }
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < chars.size(); ++i) {
    std::this_thread::sleep_until(start + seconds(kLifetimeS) * i);
    const int64_t ch = chars[i];
    SimAdd(ch, 2);
    const int64_t total = SimTotal(ch);
    EnqueueSync({ch});
    ASSERT_TRUE(WaitUntil([&] { return Stored(ch) == total; }, seconds(kLifetimeS)))
        << "character " << i << ": " << Stored(ch) << " of " << total << " killmails after "
        << std::chrono::duration_cast<seconds>(std::chrono::steady_clock::now() - start).count()
        << " s";
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, seconds(3 * kLifetimeS));
  for (int64_t ch : chars) {
    const v1::CharacterTokenInfo info = Info(ch);
    EXPECT_EQ(info.state(), "active");
    EXPECT_TRUE(info.refreshable());
    // Three lifetimes need at least three refreshes; each refresh spent the
    // refresh token it used (the simulator rotates them), so each stored the
    // rotated one.
    EXPECT_GE(info.refreshes(), 3) << ch;
  }
  EXPECT_GE(OAuthStat("grants", "refresh_token"), 4 * 4);  // each add's own refresh too
  EXPECT_EQ(OAuthStat("invalid_grant"), 0);
  // Refreshed before exp: ESI never saw an expired token.
  EXPECT_EQ(OAuthStat("rejected", "esi", "expired"), 0);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM dead_tasks"), 0);
}

TEST_F(SsoRefresherTest, RevokedRefreshTokenDisablesOnlyItsCharacter) {
  StartAgent();
  const int64_t revoked = characters_[7];
  const int64_t kept = characters_[8];
  ASSERT_TRUE(AddRefreshToken(revoked, Grant(revoked)).ok());
  ASSERT_TRUE(AddRefreshToken(kept, Grant(kept)).ok());
  ASSERT_TRUE(SyncUntil({revoked, kept},
                        [&] { return Stored(revoked) == SimTotal(revoked) &&
                                     Stored(kept) == SimTotal(kept); },
                        seconds(20)));

  // The player revokes the application for one character.
  auto r = SimPost("/sim/sso/revoke?character_id=" + std::to_string(revoked));
  ASSERT_TRUE(r && r->status == 200);
  ASSERT_TRUE(WaitUntil([&] { return Info(revoked).state() == "disabled"; },
                        seconds(3 * kLifetimeS)));
  const v1::CharacterTokenInfo info = Info(revoked);
  EXPECT_NE(info.disabled_reason().find("invalid_grant"), std::string::npos)
      << info.disabled_reason();
  EXPECT_TRUE(info.has_disabled_at());

  // A sync leased before the refresh was refused carries an access token ESI
  // still honours until its exp (the SSO's revocation does not recall issued
  // JWTs), and the agent may hold it leased ahead: let those finish before the
  // new killmails exist, so that only syncs queued after the disable can
  // reach them.
  Drain(seconds(30));
  // The other character keeps syncing, past its own token's lifetime; the
  // disabled one is not queued by the job, and not handed a token if queued.
  const int64_t revoked_before = Stored(revoked);
  SimAdd(kept, 3);
  SimAdd(revoked, 3);
  const int64_t kept_total = SimTotal(kept);
  std::this_thread::sleep_for(seconds(kLifetimeS));
  ASSERT_TRUE(SyncUntil({kept}, [&] { return Stored(kept) == kept_total; }, seconds(20)));
  EnqueueSync({revoked});
  Drain(seconds(60));
  EXPECT_EQ(Stored(revoked), revoked_before);
  EXPECT_EQ(Info(kept).state(), "active");
  EXPECT_EQ(db_.Query("SELECT error LIKE '%is disabled: refresh refused%invalid_grant%' FROM "
                      "dead_tasks WHERE entity_id = " +
                      std::to_string(revoked)),
            "t");
  EXPECT_EQ(OAuthStat("rejected", "esi", "expired"), 0);
}

TEST_F(SsoRefresherTest, SsoOutageBacksOffAndRecovers) {
  StartAgent();
  const int64_t ch = characters_[9];
  ASSERT_TRUE(AddRefreshToken(ch, Grant(ch)).ok());
  const int64_t refreshes_before = Info(ch).refreshes();

  constexpr int kOutageS = 8;  // longer than a token's lifetime
  auto r = SimPost("/sim/sso/outage?seconds=" + std::to_string(kOutageS));
  ASSERT_TRUE(r && r->status == 200);
  ASSERT_TRUE(WaitUntil([&] { return Info(ch).refresh_failures() >= 2; }, seconds(kOutageS)));
  const v1::CharacterTokenInfo failing = Info(ch);
  EXPECT_EQ(failing.state(), "active") << "a transient failure must not disable the token";
  EXPECT_NE(failing.last_refresh_error().find("503"), std::string::npos)
      << failing.last_refresh_error();

  // After the outage the next try succeeds, and sync goes on.
  ASSERT_TRUE(WaitUntil([&] { return Info(ch).refreshes() > refreshes_before; },
                        seconds(kOutageS + 5)));
  EXPECT_EQ(Info(ch).refresh_failures(), 0);
  SimAdd(ch, 4);
  const int64_t total = SimTotal(ch);
  ASSERT_TRUE(SyncUntil({ch}, [&] { return Stored(ch) == total; }, seconds(20)));
  // Backed off: with a 200 ms poll and no back-off an 8 s outage would have
  // drawn some 40 refusals; 0.5 s doubling to 2 s draws at most 7.
  EXPECT_LE(OAuthStat("outage_refusals"), 8);
  EXPECT_GE(OAuthStat("outage_refusals"), 2);
}

TEST_F(SsoRefresherTest, AddRefusesTokensTheSsoRefusesOrOfAnotherCharacter) {
  const int64_t ch = characters_[11];
  grpc::Status unknown = AddRefreshToken(ch, "not-a-refresh-token");
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(unknown.error_message().find("invalid_grant"), std::string::npos)
      << unknown.error_message();
  grpc::Status other = AddRefreshToken(characters_[12], Grant(ch));
  EXPECT_EQ(other.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(other.error_message().find("not character"), std::string::npos)
      << other.error_message();
  grpc::Status spaces = AddRefreshToken(ch, "two words");
  EXPECT_EQ(spaces.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_tokens"), 0) << "nothing is stored";
}

TEST_F(SsoRefresherTest, AuthorizationCodeIsExchangedOnce) {
  const int64_t ch = characters_[13];
  auto r = SimPost("/sim/sso/grant?character_id=" + std::to_string(ch));
  ASSERT_TRUE(r && r->status == 200);
  const std::string code = nlohmann::json::parse(r->body)["code"].get<std::string>();
  v1::RegisterCharacterTokenRequest req;
  req.set_character_id(ch);
  req.set_authorization_code(code);
  v1::RegisterCharacterTokenResponse resp;
  {
    grpc::ClientContext ctx;
    grpc::Status s = tokens_->RegisterCharacterToken(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_TRUE(Info(ch).refreshable());
  grpc::ClientContext again;
  EXPECT_EQ(tokens_->RegisterCharacterToken(&again, req, &resp).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(SsoRefresherTest, TokenWithoutTheKillmailScopeIsNotHandedOut) {
  StartAgent();
  const int64_t ch = characters_[14];
  ASSERT_TRUE(AddRefreshToken(ch, Grant(ch, "esi-skills.read_skills.v1")).ok());
  EnqueueSync({ch});
  Drain(seconds(60));
  EXPECT_EQ(RouteCount(kRecentRoute), 0) << "a token without the scope was sent to ESI";
  EXPECT_EQ(db_.Query("SELECT error FROM dead_tasks WHERE entity_id = " + std::to_string(ch)),
            "character_killmails " + std::to_string(ch) + ": HTTP 401: the token of character " +
                std::to_string(ch) +
                " lacks the scope esi-killmails.read_killmails.v1 (granted: "
                "esi-skills.read_skills.v1)");
}

}  // namespace
}  // namespace sluice::testing
