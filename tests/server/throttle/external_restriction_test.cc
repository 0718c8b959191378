// A restriction reported by a caller other than an agent cannot hold a
// budget hostage: it is capped (the configured cap, and never beyond the
// longest restriction the upstream announced for the family through an
// agent), never escalates the backoff nor shortens a restriction in force,
// names its caller, survives a restore as capped, and an operator clears it.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/throttle/throttle_state.h"
#include "server/throttle/throttler.h"

namespace sluice::throttle {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const TimePoint kT0 = FromUnixSeconds(1'700'000'000);
const CallKey kRoute{Upstream::kEsi, "/characters/{id}/", "10.0.0.1", "char:1"};
const char kBudget[] = "esi/group/character/char:1";
const ReportOrigin kOtherTeam{"ipv4:10.9.9.9:40000"};

HeaderList Headers(int remaining) {
  return {{"X-Ratelimit-Group", "character"},
          {"X-Ratelimit-Limit", "600/1m"},
          {"X-Ratelimit-Remaining", std::to_string(remaining)},
          {"X-Ratelimit-Used", std::to_string(600 - remaining)}};
}

// A 429 naming the group (not its usage, so the window keeps its room and
// only the restriction blocks), with a Retry-After if given.
HeaderList Throttled(const std::string& retry_after = "") {
  HeaderList h = {{"X-Ratelimit-Group", "character"}, {"X-Ratelimit-Limit", "600/1m"}};
  if (!retry_after.empty()) h.emplace_back("Retry-After", retry_after);
  return h;
}

Observation Obs(int status, HeaderList headers, int64_t lease_id = 0) {
  Observation o;
  o.key = kRoute;
  o.status = status;
  o.headers = std::move(headers);
  o.lease_id = lease_id;
  o.response_age = Duration::zero();
  return o;
}

class ExternalRestrictionTest : public ::testing::Test {
 protected:
  ExternalRestrictionTest() : clock_(kT0) {}

  void Make(ThrottlerOptions o = {}) {
    o.seed = 5;
    o.backoff.jitter = 0;
    throttler_ = std::make_unique<Throttler>(&clock_, o);
    // The route's group, learned from an agent's answer.
    auto g = throttler_->LeaseTokens("agent", kRoute, 1);
    ASSERT_EQ(g->granted, 1);
    throttler_->ReportBatch("agent", {Obs(200, Headers(598), g->lease_id)}, {});
  }
  BudgetInfo Info(const std::string& name = kBudget) { return InfoOf(throttler_.get(), name); }
  static BudgetInfo InfoOf(Throttler* t, const std::string& name) {
    for (const BudgetInfo& b : t->ListBudgets()) {
      if (b.name == name) return b;
    }
    ADD_FAILURE() << "no budget " << name;
    return {};
  }
  // An agent sees a 429 announcing `retry_after` seconds.
  void AgentSees429(int retry_after) {
    throttler_->ReportBatch("agent", {Obs(429, Throttled(std::to_string(retry_after)))}, {});
  }

  FakeClock clock_;
  std::unique_ptr<Throttler> throttler_;
};

TEST_F(ExternalRestrictionTest, ForgedRetryAfterIsCappedToWhatTheUpstreamEverAnnounced) {
  Make();
  // Nothing announced through an agent yet: only the base backoff (2 s).
  ASSERT_TRUE(throttler_->Report(Obs(429, Throttled("1000000000")), kOtherTeam).ok());
  BudgetInfo b = Info();
  EXPECT_EQ(b.restricted_until, clock_.Now() + seconds(2));
  EXPECT_TRUE(b.restriction_capped);
  EXPECT_EQ(b.restricted_by, kOtherTeam.caller);
  EXPECT_NE(b.restriction_reason.find(kOtherTeam.caller), std::string::npos);

  // The upstream announces 10 minutes through an agent: now the most another
  // caller can impose.
  clock_.Advance(seconds(3));
  AgentSees429(600);
  EXPECT_EQ(Info().restricted_by, "");
  clock_.Advance(seconds(601));
  ASSERT_TRUE(throttler_->Report(Obs(429, Throttled("1000000000")), kOtherTeam).ok());
  b = Info();
  EXPECT_EQ(b.restricted_until, clock_.Now() + seconds(600));
  EXPECT_TRUE(b.restriction_capped);
}

TEST_F(ExternalRestrictionTest, TheConfiguredCapBindsBelowTheAnnouncedMaximum) {
  ThrottlerOptions o;
  o.external_restriction_cap = minutes(5);
  Make(o);
  AgentSees429(3600);
  clock_.Advance(seconds(3601));
  ASSERT_TRUE(throttler_->Report(Obs(429, Throttled("86400")), kOtherTeam).ok());
  EXPECT_EQ(Info().restricted_until, clock_.Now() + minutes(5));
  // Within the cap it is not capped, and still attributed.
  clock_.Advance(minutes(6));
  ASSERT_TRUE(throttler_->Report(Obs(429, Throttled("60")), kOtherTeam).ok());
  EXPECT_EQ(Info().restricted_until, clock_.Now() + seconds(60));
  EXPECT_FALSE(Info().restriction_capped);
  EXPECT_EQ(Info().restricted_by, kOtherTeam.caller);
}

TEST_F(ExternalRestrictionTest, ExternalReportsNeitherShortenNorEscalate) {
  Make();
  AgentSees429(120);
  const TimePoint agent_end = Info().restricted_until;
  // Shorter than what is in force: nothing changes, not even the attribution.
  ASSERT_TRUE(throttler_->Report(Obs(429, Throttled("5")), kOtherTeam).ok());
  EXPECT_EQ(Info().restricted_until, agent_end);
  EXPECT_EQ(Info().restricted_by, "");
  // Many external 429s after it ended do not escalate the backoff the
  // upstream's next 429 gets: level 1 (the agent's episode) gives 4 s.
  clock_.Advance(seconds(121));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(throttler_->Report(Obs(429, Throttled()), kOtherTeam).ok());
    clock_.Advance(seconds(10));
  }
  AgentSees429(0);
  EXPECT_EQ(Info().restricted_until, clock_.Now() + seconds(4));
}

TEST_F(ExternalRestrictionTest, ClearLiftsTheRestrictionAndItsBackoffAndRecordsWho) {
  Make();
  AgentSees429(600);
  clock_.Advance(seconds(1));
  AgentSees429(0);  // within the episode: no escalation
  ASSERT_GT(Info().restricted_until, clock_.Now());
  auto cleared = throttler_->ClearRestriction(kBudget, "operator:alice");
  ASSERT_TRUE(cleared.ok()) << cleared.status();
  EXPECT_TRUE(cleared->was_restricted);
  EXPECT_EQ(cleared->was_level, 1);
  BudgetInfo b = Info();
  EXPECT_LE(b.restricted_until, clock_.Now());
  EXPECT_EQ(b.restriction_cleared_by, "operator:alice");
  EXPECT_EQ(b.restriction_cleared_at, clock_.Now());
  EXPECT_EQ(throttler_->LeaseTokens("agent", kRoute, 1)->granted, 1);
  EXPECT_TRUE(throttler_->ActiveRestrictions().empty());
  // The backoff starts over: the next 429 without Retry-After gives the base.
  AgentSees429(0);
  EXPECT_EQ(Info().restricted_until, clock_.Now() + seconds(2));

  EXPECT_TRUE(
      absl::IsNotFound(throttler_->ClearRestriction("esi/group/none/char:1", "x").status()));
}

TEST_F(ExternalRestrictionTest, ACappedRestrictionAndTheAnnouncedMaximumSurviveARestore) {
  Make();
  AgentSees429(300);
  clock_.Advance(seconds(301));
  ASSERT_TRUE(throttler_->Report(Obs(429, Throttled("1000000000")), kOtherTeam).ok());
  const TimePoint until = Info().restricted_until;
  ASSERT_EQ(until, clock_.Now() + seconds(300));
  ThrottleSnapshot snapshot = throttler_->Snapshot(/*clean_shutdown=*/true);
  // Through the stored JSON forms, as the persister keeps them.
  for (BudgetState& row : snapshot.budgets) {
    absl::StatusOr<BudgetState> decoded = DecodeBudgetState(EncodeBudgetState(row));
    ASSERT_TRUE(decoded.ok());
    row = *decoded;
  }
  absl::StatusOr<RouteMapState> map = DecodeRouteMapState(EncodeRouteMapState(snapshot.map));
  ASSERT_TRUE(map.ok());
  snapshot.map = *map;

  Throttler restarted(&clock_, ThrottlerOptions{});
  ASSERT_TRUE(restarted.Restore(snapshot).ok());
  for (const BudgetInfo& b : restarted.ListBudgets()) {
    if (b.name != kBudget) continue;
    EXPECT_EQ(b.restricted_until, until);
    EXPECT_TRUE(b.restriction_capped);
    EXPECT_EQ(b.restricted_by, kOtherTeam.caller);
  }
  // The family's announced maximum came back too: a forged day is 300 s.
  clock_.Advance(seconds(301));
  ASSERT_TRUE(restarted.Report(Obs(429, Throttled("86400")), kOtherTeam).ok());
  for (const BudgetInfo& b : restarted.ListBudgets()) {
    if (b.name == kBudget) {
      EXPECT_EQ(b.restricted_until, clock_.Now() + seconds(300));
    }
  }
}

// Headers in another team's report tighten a budget only within the cap,
// name the team, survive a restore, and an operator's clear lifts them;
// the same headers from an agent are the upstream's word and stay.
TEST_F(ExternalRestrictionTest, ForgedRemainingIsCappedNamedAndClearedAnAgentsStays) {
  Make();
  const int64_t room = Info().window.remaining;
  ASSERT_GT(room, 500);
  // Nothing announced through an agent: the cap is the base backoff, 2 s.
  ASSERT_TRUE(throttler_->Report(Obs(200, Headers(0)), kOtherTeam).ok());
  BudgetInfo b = Info();
  EXPECT_EQ(b.window.remaining, 0);
  EXPECT_EQ(b.tightened_by, kOtherTeam.caller);
  EXPECT_EQ(b.tightened_until, clock_.Now() + seconds(2));
  EXPECT_EQ(b.restricted_by, "");  // a tightening, not a restriction
  clock_.Advance(milliseconds(2001));
  b = Info();
  EXPECT_EQ(b.window.remaining, room - 2);  // the reported call itself: a 2xx, 2 tokens
  EXPECT_EQ(b.tightened_by, "");

  // With an hour announced by the upstream, the forged use lasts its window
  // (1 min) at most; a restore keeps it and who; the operator lifts it.
  AgentSees429(3600);
  ASSERT_TRUE(throttler_->ClearRestriction(kBudget, "alice").ok());
  ASSERT_TRUE(throttler_->Report(Obs(200, Headers(0)), kOtherTeam).ok());
  EXPECT_EQ(Info().tightened_until, clock_.Now() + minutes(1));
  ThrottleSnapshot snapshot = throttler_->Snapshot(/*clean_shutdown=*/true);
  for (BudgetState& row : snapshot.budgets) {
    absl::StatusOr<BudgetState> decoded = DecodeBudgetState(EncodeBudgetState(row));
    ASSERT_TRUE(decoded.ok());
    row = *decoded;
  }
  Throttler restarted(&clock_, ThrottlerOptions{});
  ASSERT_TRUE(restarted.Restore(snapshot).ok());
  b = InfoOf(&restarted, kBudget);
  EXPECT_EQ(b.window.remaining, 0);
  EXPECT_EQ(b.tightened_by, kOtherTeam.caller);
  auto cleared = restarted.ClearRestriction(kBudget, "alice");
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->was_tightened_by, kOtherTeam.caller);
  b = InfoOf(&restarted, kBudget);
  EXPECT_GT(b.window.remaining, 500);
  EXPECT_EQ(b.tightened_by, "");

  // An agent's Remaining: 0 is the upstream's word: kept through a clear.
  ASSERT_TRUE(throttler_->ClearRestriction(kBudget, "alice").ok());
  auto g = throttler_->LeaseTokens("agent", kRoute, 1);
  ASSERT_EQ(g->granted, 1);
  throttler_->ReportBatch("agent", {Obs(200, Headers(0), g->lease_id)}, {});
  ASSERT_TRUE(throttler_->ClearRestriction(kBudget, "alice").ok());
  EXPECT_EQ(Info().window.remaining, 0);
}

TEST_F(ExternalRestrictionTest, ForgedErrorLimitRemainIsCappedAndCleared) {
  Make();
  const std::string errors = "esi/errors/ip:10.0.0.1";
  const int64_t room = Info(errors).window.remaining;
  ASSERT_GT(room, 50);
  Observation o = Obs(200, {{"X-ESI-Error-Limit-Remain", "0"}, {"X-ESI-Error-Limit-Reset", "60"}});
  o.key = CallKey{Upstream::kEsi, "/universe/types/{id}/", "10.0.0.1"};
  ASSERT_TRUE(throttler_->Report(o, kOtherTeam).ok());
  BudgetInfo b = Info(errors);
  EXPECT_EQ(b.window.remaining, 0);
  EXPECT_EQ(b.tightened_by, kOtherTeam.caller);
  EXPECT_EQ(b.tightened_until, clock_.Now() + seconds(2));  // the cap
  auto cleared = throttler_->ClearRestriction(errors, "alice");
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->was_tightened_by, kOtherTeam.caller);
  EXPECT_EQ(Info(errors).window.remaining, room);
  EXPECT_EQ(Info(errors).tightened_by, "");
}

TEST_F(ExternalRestrictionTest, ForgedLimitsDoNotChangeWhatAgentsTaught) {
  Make();
  ASSERT_TRUE(throttler_
                  ->Report(Obs(200, {{"X-Ratelimit-Group", "character"},
                                     {"X-Ratelimit-Limit", "100000/1m"}}),
                           kOtherTeam)
                  .ok());
  EXPECT_EQ(Info().window.limit, 600);
  // Nor move a known route into another group.
  ASSERT_TRUE(
      throttler_
          ->Report(Obs(200, {{"X-Ratelimit-Group", "roomy"}, {"X-Ratelimit-Limit", "100000/1m"}}),
                   kOtherTeam)
          .ok());
  bool roomy = false;
  for (const BudgetInfo& b : throttler_->ListBudgets()) roomy |= b.family == "esi/group/roomy";
  EXPECT_FALSE(roomy);
  EXPECT_EQ(throttler_->LeaseTokens("agent", kRoute, 1)->granted, 1);
  EXPECT_EQ(Info().window.limit, 600);
}

}  // namespace
}  // namespace sluice::throttle
