// The Throttler facade against a FakeClock: learning, leases, restrictions
// across agents, revocation and expiry, the error budget.
#include "server/throttle/throttler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace sluice::throttle {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0 = FromUnixSeconds(1'700'000'000);

CallKey Esi(const std::string& route) { return CallKey{Upstream::kEsi, route, ""}; }
CallKey EsiAs(const std::string& route, const std::string& caller, const std::string& egress = "") {
  return CallKey{Upstream::kEsi, route, egress, caller};
}
CallKey EsiFrom(const std::string& route, const std::string& egress) {
  return CallKey{Upstream::kEsi, route, egress, ""};
}
CallKey Poe(const std::string& route, const std::string& egress) {
  return CallKey{Upstream::kPoe, route, egress};
}

// Budget names of public calls from an agent that named no egress.
std::string G(const std::string& group) { return "esi/group/" + group + "/ip:unknown"; }
const char kErrors[] = "esi/errors/ip:unknown";

HeaderList EsiHeaders(const std::string& group, int remaining, int used, int err_remain = 100,
                      int err_reset = 60, const std::string& limit = "600/1m") {
  return {{"X-Ratelimit-Group", group},
          {"X-Ratelimit-Limit", limit},
          {"X-Ratelimit-Remaining", std::to_string(remaining)},
          {"X-Ratelimit-Used", std::to_string(used)},
          {"X-ESI-Error-Limit-Remain", std::to_string(err_remain)},
          {"X-ESI-Error-Limit-Reset", std::to_string(err_reset)}};
}

Observation Obs(CallKey key, int status, HeaderList headers, int64_t lease_id = 0) {
  Observation o;
  o.key = std::move(key);
  o.status = status;
  o.headers = std::move(headers);
  o.lease_id = lease_id;
  o.response_age = Duration::zero();
  o.sent_age = milliseconds(50);
  return o;
}

// A copy: listings are temporaries.
std::optional<BudgetInfo> Find(const std::vector<BudgetInfo>& budgets, const std::string& name) {
  for (const BudgetInfo& b : budgets) {
    if (b.name == name) return b;
  }
  return std::nullopt;
}

class ThrottlerTest : public ::testing::Test {
 protected:
  ThrottlerTest() : clock_(kT0) {}

  void Make(ThrottlerOptions o = {}) {
    o.seed = 1;
    throttler_ = std::make_unique<Throttler>(&clock_, o);
    throttler_->AddRevocationListener(
        [this](const RevocationEvent& e) { revocations_.push_back(e); });
  }

  // Leases one call on `key`, reports it with `headers` and returns the lease.
  int64_t CallOnce(const CallKey& key, int status, HeaderList headers,
                   const std::string& agent = "a") {
    auto g = throttler_->LeaseTokens(agent, key, 1);
    EXPECT_TRUE(g.ok());
    EXPECT_EQ(g->granted, 1) << g->limiting_budget;
    clock_.Advance(milliseconds(50));
    EXPECT_TRUE(throttler_->Report(Obs(key, status, std::move(headers), g->lease_id)).ok());
    return g->lease_id;
  }

  void Rep(const Observation& o) { ASSERT_TRUE(throttler_->Report(o).ok()); }

  // Teaches the throttler that `route` is in ESI group `group` (600/1m).
  void LearnEsi(const std::string& route, const std::string& group) {
    CallOnce(Esi(route), 200, EsiHeaders(group, 598, 2));
  }

  FakeClock clock_;
  std::unique_ptr<Throttler> throttler_;
  std::vector<RevocationEvent> revocations_;
};

TEST_F(ThrottlerTest, UnseenRouteProbesOneCallThenLearnsItsGroup) {
  Make();
  auto first = throttler_->LeaseTokens("a", Esi("/alliances/"), 5);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->granted, 1);  // probe
  auto second = throttler_->LeaseTokens("b", Esi("/alliances/"), 5);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->granted, 0);
  EXPECT_GT(second->retry_at, clock_.Now());
  EXPECT_EQ(second->limiting_budget, "esi/route//alliances/");

  ASSERT_TRUE(
      throttler_
          ->Report(Obs(Esi("/alliances/"), 200, EsiHeaders("alliance", 598, 2), first->lease_id))
          .ok());
  auto third = throttler_->LeaseTokens("b", Esi("/alliances/"), 5);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->granted, 5);
  EXPECT_EQ(third->ttl, seconds(2));
  EXPECT_EQ(third->expires_at, clock_.Now() + seconds(2));

  auto budgets = throttler_->ListBudgets();
  std::optional<BudgetInfo> group = Find(budgets, G("alliance"));
  ASSERT_TRUE(group.has_value());
  EXPECT_TRUE(group->learned);
  EXPECT_EQ(group->window.limit, 600);
  EXPECT_EQ(group->window.period, seconds(60));
  EXPECT_EQ(group->outstanding_calls, 5);
  EXPECT_EQ(group->outstanding_units, 25);  // the worst case (4xx) per call
  EXPECT_EQ(group->routes, std::vector<std::string>{"esi /alliances/"});
  std::optional<BudgetInfo> errors = Find(budgets, kErrors);
  ASSERT_TRUE(errors.has_value());
  EXPECT_EQ(errors->outstanding_units, 5);
}

TEST_F(ThrottlerTest, RouteAnsweringWithoutGroupHeadersIsGovernedByTheErrorLimitOnly) {
  Make();
  // ESI names the group on every response of a grouped route; /status/
  // answers without one, so only the error limit (100, 25% per lease) binds.
  CallOnce(Esi("/status/"), 200, {{"X-ESI-Error-Limit-Remain", "100"}});
  auto g = throttler_->LeaseTokens("a", Esi("/status/"), 10);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->granted, 10);
  EXPECT_FALSE(Find(throttler_->ListBudgets(), "esi/route//status/")->observed ||
               Find(throttler_->ListBudgets(), "esi/route//status/")->outstanding_calls > 0);
  // A later answer naming a group moves the route into it.
  Rep(Obs(Esi("/status/"), 200, EsiHeaders("status", 590, 10), g->lease_id));
  EXPECT_EQ(Find(throttler_->ListBudgets(), G("status"))->outstanding_calls, 9);
}

TEST_F(ThrottlerTest, UngroupedRoutesTakeAConfiguredCap) {
  ThrottlerOptions o;
  o.esi_ungrouped = WindowLimit{20, seconds(60)};
  Make(o);
  CallOnce(Esi("/status/"), 200, {});
  // 20 calls per minute per caller, 25% per lease.
  auto g = throttler_->LeaseTokens("a", Esi("/status/"), 10);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->granted, 5);
  EXPECT_EQ(Find(throttler_->ListBudgets(), "esi/ungrouped//status//ip:unknown")->window.limit, 20);
}

// Agents keep leases of the coordinator before this one (they arm, report
// and hand them back to whoever leads next), so a new leader's lease ids
// must be new to them, even when its host's clock is behind the old one's.
TEST_F(ThrottlerTest, ALaterLeadersLeaseIdsLieAboveAnEarlierLeadersWhateverTheClocks) {
  auto lease_ids = [](int64_t epoch, TimePoint now) {
    FakeClock clock(now);
    ThrottlerOptions o;
    o.seed = 1;
    o.leader_epoch = epoch;
    Throttler throttler(&clock, o);
    std::vector<int64_t> ids;
    for (int i = 0; i < 3; ++i) {
      auto g = throttler.LeaseTokens(
          "a", EsiFrom("/route" + std::to_string(i) + "/", "10.0.0." + std::to_string(i)), 1);
      EXPECT_TRUE(g.ok());
      EXPECT_EQ(g->granted, 1) << g->limiting_budget;
      ids.push_back(g->lease_id);
    }
    return ids;
  };
  const std::vector<int64_t> unelected = lease_ids(0, kT0 + std::chrono::hours(1));
  const std::vector<int64_t> first = lease_ids(7, kT0 + std::chrono::hours(1));
  const std::vector<int64_t> second = lease_ids(8, kT0);  // its clock an hour behind
  for (const std::vector<int64_t>* ids : {&unelected, &first, &second}) {
    EXPECT_TRUE(std::is_sorted(ids->begin(), ids->end()));
    EXPECT_GT(ids->front(), 0);
  }
  EXPECT_GT(second.front(), first.back());
  // A coordinator of an older version (ids from its start time) handing over
  // to a leader: the leader's ids are new as well.
  EXPECT_GT(first.front(), unelected.back());
}

TEST_F(ThrottlerTest, GrantsStopAtTheBudgetAndResumeWhenUnitsReturn) {
  ThrottlerOptions o;
  o.max_lease_fraction = 1.0;
  Make(o);
  LearnEsi("/a/", "g");  // 2 of 600 used, margin 6
  // Spend the rest at 2xx cost.
  int granted = 0;
  while (true) {
    auto g = throttler_->LeaseTokens("a", Esi("/a/"), 100);
    ASSERT_TRUE(g.ok());
    if (g->granted == 0) {
      EXPECT_EQ(g->limiting_budget, G("g"));
      break;
    }
    granted += g->granted;
    for (int i = 0; i < g->granted; ++i) {
      ASSERT_TRUE(throttler_->Report(Obs(Esi("/a/"), 200, {}, g->lease_id)).ok());
    }
  }
  // 600 - 6 margin - 2 already used = 592 units = 296 calls of 2.
  EXPECT_EQ(granted, 296);
  auto next = throttler_->NextPermitted(Esi("/a/"), 1);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->limiting_budget, G("g"));
  EXPECT_EQ(next->at, kT0 + milliseconds(50) + seconds(60));  // the learning call returns
  clock_.Set(next->at);
  auto g = throttler_->LeaseTokens("a", Esi("/a/"), 1);
  EXPECT_EQ(g->granted, 1);
}

TEST_F(ThrottlerTest, RestrictionSeenByOneAgentStopsAnother) {
  Make();
  LearnEsi("/characters/{id}/", "character");
  LearnEsi("/characters/{id}/portrait/", "character-portrait");
  auto a = throttler_->LeaseTokens("agent-a", Esi("/characters/{id}/"), 3);
  auto b = throttler_->LeaseTokens("agent-b", Esi("/characters/{id}/"), 1);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->granted, 3);
  ASSERT_EQ(b->granted, 1);

  // Agent B's call is refused with a 429.
  HeaderList h = EsiHeaders("character", 0, 600);
  h.emplace_back("Retry-After", "30");
  throttler_->ReportBatch("agent-b", {Obs(Esi("/characters/{id}/"), 429, h, b->lease_id)}, {});

  ASSERT_EQ(revocations_.size(), 1u);
  EXPECT_EQ(revocations_[0].budget, G("character"));
  ASSERT_EQ(revocations_[0].leases.size(), 1u);
  EXPECT_EQ(revocations_[0].leases[0].first, a->lease_id);
  EXPECT_EQ(revocations_[0].leases[0].second, "agent-a");
  EXPECT_GE(revocations_[0].until, clock_.Now() + seconds(30));

  // Agent A cannot lease again before the restriction ends, on any route of the group.
  auto again = throttler_->LeaseTokens("agent-a", Esi("/characters/{id}/"), 1);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->granted, 0);
  EXPECT_EQ(again->limiting_budget, G("character"));
  EXPECT_GE(again->retry_at, revocations_[0].until);
  auto next = throttler_->NextPermitted(Esi("/characters/{id}/"), 1);
  EXPECT_GE(next->at, revocations_[0].until);
  // Another group is unaffected.
  auto other = throttler_->LeaseTokens("agent-a", Esi("/characters/{id}/portrait/"), 1);
  EXPECT_EQ(other->granted, 1);
  // A route whose group is unknown may be in the restricted one: it waits.
  auto unknown = throttler_->LeaseTokens("agent-a", Esi("/characters/{id}/medals/"), 1);
  EXPECT_EQ(unknown->granted, 0);
  EXPECT_EQ(unknown->limiting_budget, G("character"));

  // A newly connected watcher learns about the active restriction.
  auto active = throttler_->ActiveRestrictions();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].budget, G("character"));

  auto budgets = throttler_->ListBudgets();
  EXPECT_EQ(Find(budgets, G("character"))->counters.restrictions, 1);
  EXPECT_GE(Find(budgets, G("character"))->counters.denied, 1);
}

TEST_F(ThrottlerTest, ReturnsCreditUnlessTheLeaseWasRevoked) {
  Make();
  LearnEsi("/a/", "g");  // 2 units used; 594 usable
  auto lease = throttler_->LeaseTokens("a", Esi("/a/"), 4);
  ASSERT_EQ(lease->granted, 4);
  EXPECT_EQ(Find(throttler_->ListBudgets(), G("g"))->window.remaining, 594 - 2 - 20);
  ASSERT_TRUE(throttler_->ReturnTokens(lease->lease_id, 4).ok());
  EXPECT_EQ(Find(throttler_->ListBudgets(), G("g"))->window.remaining, 592);
  EXPECT_TRUE(absl::IsNotFound(throttler_->ReturnTokens(lease->lease_id, 1)));

  lease = throttler_->LeaseTokens("a", Esi("/a/"), 4);
  ASSERT_EQ(lease->granted, 4);
  // A bare 429 (no headers) on the route blocks its group and revokes the lease.
  Rep(Obs(Esi("/a/"), 429, {}));
  ASSERT_EQ(revocations_.size(), 1u);
  EXPECT_EQ(revocations_[0].budget, G("g"));
  ASSERT_TRUE(throttler_->ReturnTokens(lease->lease_id, 4).ok());
  std::optional<BudgetInfo> g = Find(throttler_->ListBudgets(), G("g"));
  EXPECT_EQ(g->outstanding_calls, 0);
  // The 429 costs 5, and the 4 revoked calls count as 2xx calls (8): the
  // holder may have raced the revocation.
  EXPECT_EQ(g->window.remaining, 592 - 5 - 8);
}

TEST_F(ThrottlerTest, ExpiredLeaseLapsesAsSpentAtItsWorst) {
  Make();
  LearnEsi("/a/", "g");
  auto lease = throttler_->LeaseTokens("a", Esi("/a/"), 3);
  ASSERT_EQ(lease->granted, 3);
  const TimePoint expires = lease->expires_at;
  // Reports may still come until expiry + the longest call + grace.
  clock_.Set(expires + seconds(34));
  EXPECT_EQ(Find(throttler_->ListBudgets(), G("g"))->outstanding_calls, 3);
  clock_.Set(expires + seconds(35));
  std::optional<BudgetInfo> g = Find(throttler_->ListBudgets(), G("g"));
  EXPECT_EQ(g->outstanding_calls, 0);
  // Charged at 5 each, answered as late as possible: expiry + 30 s.
  EXPECT_EQ(g->window.remaining, 592 - 15);
  clock_.Set(expires + seconds(30) + seconds(60));
  EXPECT_EQ(Find(throttler_->ListBudgets(), G("g"))->window.remaining, 594);
  // A report arriving after the lapse is charged again (safe side).
  Rep(Obs(Esi("/a/"), 200, {}, lease->lease_id));
  EXPECT_EQ(Find(throttler_->ListBudgets(), G("g"))->window.remaining, 592);
}

TEST_F(ThrottlerTest, ErrorBudgetReservesPerCallAndRefundsSuccesses) {
  Make();
  LearnEsi("/a/", "g");
  auto errors = [&] { return *Find(throttler_->ListBudgets(), kErrors); };
  EXPECT_EQ(errors().window.remaining, 99);  // 100, margin 1
  auto lease = throttler_->LeaseTokens("a", Esi("/a/"), 10);
  ASSERT_EQ(lease->granted, 10);
  EXPECT_EQ(errors().window.remaining, 89);
  EXPECT_EQ(errors().outstanding_units, 10);
  Rep(Obs(Esi("/a/"), 200, {}, lease->lease_id));
  Rep(Obs(Esi("/a/"), 304, {}, lease->lease_id));
  EXPECT_EQ(errors().window.remaining, 91);  // both refunded
  Rep(Obs(Esi("/a/"), 404, {}, lease->lease_id));
  Rep(Obs(Esi("/a/"), 503, {}, lease->lease_id));
  EXPECT_EQ(errors().window.remaining, 91);  // reservation became an error
  ASSERT_TRUE(throttler_->ReturnTokens(lease->lease_id, 6).ok());
  EXPECT_EQ(errors().window.remaining, 97);

  // The header is the authority: 5 errors left (one kept as margin) means
  // at most 4 calls in flight, whatever the group would allow. (A second
  // later, so our own two errors certainly preceded the header.)
  clock_.Advance(seconds(1));
  Rep(Obs(Esi("/a/"), 200, EsiHeaders("g", 500, 100, /*err_remain=*/5, 40)));
  auto capped = throttler_->LeaseTokens("a", Esi("/a/"), 20);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->granted, 4);
  EXPECT_EQ(capped->limiting_budget, kErrors);
}

TEST_F(ThrottlerTest, Esi420BlocksEveryEsiRouteUntilTheReset) {
  Make();
  LearnEsi("/a/", "g1");
  LearnEsi("/b/", "g2");
  auto lease = throttler_->LeaseTokens("x", Esi("/b/"), 2);
  HeaderList h = {{"X-ESI-Error-Limit-Remain", "0"}, {"X-ESI-Error-Limit-Reset", "20"}};
  Rep(Obs(Esi("/a/"), 420, h));
  ASSERT_FALSE(revocations_.empty());
  EXPECT_EQ(revocations_.back().budget, kErrors);
  ASSERT_EQ(revocations_.back().leases.size(), 1u);
  EXPECT_EQ(revocations_.back().leases[0].first, lease->lease_id);
  for (const char* route : {"/a/", "/b/", "/never/seen/"}) {
    auto next = throttler_->NextPermitted(Esi(route), 1);
    ASSERT_TRUE(next.ok());
    EXPECT_GE(next->at, clock_.Now() + seconds(20)) << route;
    EXPECT_EQ(next->limiting_budget, kErrors) << route;
  }
  // The error limit is per address: another egress goes on.
  EXPECT_EQ(throttler_->NextPermitted(EsiFrom("/a/", "10.0.0.9"), 1)->wait, Duration::zero());
  // PoE is another upstream.
  EXPECT_EQ(throttler_->NextPermitted(Poe("/public-stash-tabs", "1.2.3.4"), 1)->wait,
            Duration::zero());
}

TEST_F(ThrottlerTest, PoeBudgetsPerTierAndPerEgressForIpRules) {
  Make();
  HeaderList h = {{"X-Rate-Limit-Policy", "stash"},
                  {"X-Rate-Limit-Rules", "Ip,Account"},
                  {"X-Rate-Limit-Ip", "45:60:120,180:1800:600"},
                  {"X-Rate-Limit-Ip-State", "1:60:0,1:1800:0"},
                  {"X-Rate-Limit-Account", "30:60:60"},
                  {"X-Rate-Limit-Account-State", "1:60:0"}};
  CallOnce(Poe("/public-stash-tabs", "10.0.0.1"), 200, h);
  auto r = throttler_->NextPermitted(Poe("/public-stash-tabs", "10.0.0.2"), 1);
  ASSERT_TRUE(r.ok());
  auto budgets = throttler_->ListBudgets();
  for (const char* name :
       {"poe/stash/ip/0/ip:10.0.0.1", "poe/stash/ip/1/ip:10.0.0.1", "poe/stash/ip/0/ip:10.0.0.2",
        "poe/stash/ip/1/ip:10.0.0.2", "poe/stash/account/0/account:unknown"}) {
    ASSERT_TRUE(Find(budgets, name).has_value()) << name;
  }
  EXPECT_EQ(Find(budgets, "poe/stash/ip/0/ip:10.0.0.1")->window.limit, 45);
  EXPECT_EQ(Find(budgets, "poe/stash/ip/0/ip:10.0.0.1")->window.penalty, seconds(120));
  EXPECT_EQ(Find(budgets, "poe/stash/ip/0/ip:10.0.0.1")->window.remaining, 44);
  EXPECT_EQ(Find(budgets, "poe/stash/ip/0/ip:10.0.0.2")->window.remaining, 45);
  EXPECT_EQ(Find(budgets, "poe/stash/account/0/account:unknown")->window.remaining, 29);
  // The new egress's Ip budgets were never observed: one probe call only.
  EXPECT_FALSE(Find(budgets, "poe/stash/ip/0/ip:10.0.0.2")->observed);
  EXPECT_EQ(throttler_->LeaseTokens("b", Poe("/public-stash-tabs", "10.0.0.2"), 5)->granted, 1);
  // One lease takes at most 25% of any budget: 7 of the Account rule's 30.
  EXPECT_EQ(throttler_->LeaseTokens("a", Poe("/public-stash-tabs", "10.0.0.1"), 20)->granted, 7);

  // An active restriction in a -State header blocks that tier at once.
  HeaderList restricted = h;
  restricted[3].second = "46:60:120,13:1800:0";
  CallOnce(Poe("/public-stash-tabs", "10.0.0.3"), 200, {});  // learns nothing new
  Rep(Obs(Poe("/public-stash-tabs", "10.0.0.1"), 429, restricted));
  ASSERT_FALSE(revocations_.empty());
  EXPECT_EQ(revocations_.back().budget, "poe/stash/ip/0/ip:10.0.0.1");
  auto next = throttler_->NextPermitted(Poe("/public-stash-tabs", "10.0.0.1"), 1);
  EXPECT_GE(next->at, clock_.Now() + seconds(120));
  EXPECT_EQ(next->limiting_budget, "poe/stash/ip/0/ip:10.0.0.1");
  // The other egress is not restricted by the Ip rule of 10.0.0.1.
  auto other = throttler_->NextPermitted(Poe("/public-stash-tabs", "10.0.0.3"), 1);
  EXPECT_LT(other->at, clock_.Now() + seconds(1));
}

TEST_F(ThrottlerTest, PoeStateHeaderCorrectsTowardTheUpstreamCount) {
  ThrottlerOptions o;
  o.idle_check_after = std::chrono::hours(1);  // keep the refilled budget to look at
  Make(o);
  HeaderList h = {{"X-Rate-Limit-Policy", "p"},
                  {"X-Rate-Limit-Rules", "Ip"},
                  {"X-Rate-Limit-Ip", "10:60:120"},
                  {"X-Rate-Limit-Ip-State", "7:60:0"}};
  // Our one call, but the upstream counts 7: 6 hits we never saw (another
  // process on this address) hold until a period after this answer.
  CallOnce(Poe("/x", "1.1.1.1"), 200, h);
  auto b = Find(throttler_->ListBudgets(), "poe/p/ip/0/ip:1.1.1.1");
  EXPECT_EQ(b->window.remaining, 3);
  clock_.Advance(seconds(60));
  EXPECT_EQ(Find(throttler_->ListBudgets(), "poe/p/ip/0/ip:1.1.1.1")->window.remaining, 10);
}

TEST_F(ThrottlerTest, UnknownRouteReservesInEveryKnownGroupUntilItsAnswerShowsWhich) {
  ThrottlerOptions o;
  o.probe_calls = 3;
  Make(o);
  LearnEsi("/b/", "shared");
  LearnEsi("/c/", "other");
  // /a/ may be in either group: its calls hold a reservation in both.
  auto lease = throttler_->LeaseTokens("a", Esi("/a/"), 3);
  ASSERT_EQ(lease->granted, 3);
  EXPECT_EQ(Find(throttler_->ListBudgets(), G("shared"))->outstanding_calls, 3);
  EXPECT_EQ(Find(throttler_->ListBudgets(), G("other"))->outstanding_calls, 3);
  // The first answer shows /a/ is in "shared": the reservations in "other"
  // go as each call settles, those in "shared" stay until then.
  Rep(Obs(Esi("/a/"), 200, EsiHeaders("shared", 594, 6), lease->lease_id));
  std::optional<BudgetInfo> g = Find(throttler_->ListBudgets(), G("shared"));
  EXPECT_EQ(g->outstanding_calls, 2);
  EXPECT_EQ(g->outstanding_units, 10);
  Rep(Obs(Esi("/a/"), 200, {}, lease->lease_id));
  Rep(Obs(Esi("/a/"), 200, {}, lease->lease_id));
  g = Find(throttler_->ListBudgets(), G("shared"));
  EXPECT_EQ(g->outstanding_calls, 0);
  EXPECT_EQ(g->window.remaining, 594 - 8);
  std::optional<BudgetInfo> other = Find(throttler_->ListBudgets(), G("other"));
  EXPECT_EQ(other->outstanding_calls, 0);
  EXPECT_EQ(other->window.remaining, 594 - 2);  // only its own learning call
}

TEST_F(ThrottlerTest, AnswerNamingANewGroupMovesOutstandingLeasesOntoIt) {
  ThrottlerOptions o;
  o.probe_calls = 3;
  Make(o);
  auto lease = throttler_->LeaseTokens("a", Esi("/a/"), 3);  // no group known at all
  ASSERT_EQ(lease->granted, 3);
  // The group is new: the two calls still out will be spent there, so it
  // reserves them now.
  Rep(Obs(Esi("/a/"), 200, EsiHeaders("fresh", 596, 4), lease->lease_id));
  std::optional<BudgetInfo> g = Find(throttler_->ListBudgets(), G("fresh"));
  EXPECT_EQ(g->outstanding_calls, 2);
  EXPECT_EQ(g->outstanding_units, 10);
}

TEST_F(ThrottlerTest, UnknownRouteNeverProbesIntoASpentGroup) {
  ThrottlerOptions o;
  o.max_lease_fraction = 1.0;
  Make(o);
  // The caller's only known group is spent.
  LearnEsi("/alliances/{id}/", "alliance");
  while (true) {
    auto g = throttler_->LeaseTokens("a", Esi("/alliances/{id}/"), 100);
    if (g->granted == 0) break;
    for (int i = 0; i < g->granted; ++i) Rep(Obs(Esi("/alliances/{id}/"), 200, {}, g->lease_id));
  }
  // /alliances/{id}/corporations/ may be in that group: no probe now...
  auto probe = throttler_->LeaseTokens("a", Esi("/alliances/{id}/corporations/"), 1);
  EXPECT_EQ(probe->granted, 0);
  EXPECT_EQ(probe->limiting_budget, G("alliance"));
  const TimePoint refilled = throttler_->NextPermitted(Esi("/alliances/{id}/corporations/"), 1)->at;
  EXPECT_GT(refilled, clock_.Now());
  // ...but as soon as the group has room for it.
  clock_.Set(refilled);
  probe = throttler_->LeaseTokens("a", Esi("/alliances/{id}/corporations/"), 1);
  EXPECT_EQ(probe->granted, 1);
}

TEST_F(ThrottlerTest, RoutesSeededFromOpenApiNeedNoProbe) {
  Make();
  ASSERT_EQ(
      throttler_->SeedEsiRoutes({{"/characters/{character_id}/killmails/recent", "char-killmail",
                                  WindowLimit{30, std::chrono::minutes(15)}}}),
      1);
  // The agent's template names its parameter differently: same route.
  auto g = throttler_->LeaseTokens("a", EsiAs("/characters/{id}/killmails/recent/", "char:7"), 4);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->granted, 1);  // a quarter of 30 tokens is one call of 5 reserved
  // No route probe: the character's own bucket is what limits, probing once.
  EXPECT_EQ(throttler_->LeaseTokens("b", EsiAs("/characters/{id}/killmails/recent/", "char:7"), 1)
                ->limiting_budget,
            "esi/group/char-killmail/char:7");
  auto info = Find(throttler_->ListBudgets(), "esi/group/char-killmail/char:7");
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->learned);
  EXPECT_EQ(info->window.limit, 30);
  EXPECT_EQ(info->window.period, std::chrono::minutes(15));
}

TEST_F(ThrottlerTest, AcquireReservesNowOrLaterAndSettlesThroughItsLease) {
  ThrottlerOptions o;
  o.probe_calls = 100;
  Make(o);
  throttler_->SeedEsiRoutes({{"/x/", "gx", WindowLimit{10, seconds(60)}}});
  // 10 units, a call reserves 5 and needs 2: 2 calls at once.
  auto a = throttler_->Acquire(Esi("/x/"), 2, Duration::zero(), "team-a");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->granted);
  EXPECT_EQ(a->wait, Duration::zero());
  EXPECT_GT(a->lease_id, 0);
  // Nothing left, and only settling the calls in flight can free room: a
  // waiting Acquire is refused with a time to ask again.
  auto b = throttler_->Acquire(Esi("/x/"), 1, seconds(120), "team-b");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->granted);
  EXPECT_EQ(b->limiting_budget, G("gx"));
  Observation report = Obs(Esi("/x/"), 200, {}, a->lease_id);
  Rep(report);
  Rep(report);
  // 4 units spent at +0: 6 left now, all back at +60 s.
  auto c = throttler_->Acquire(Esi("/x/"), 2, seconds(120), "team-b");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->granted);
  EXPECT_EQ(c->at, kT0 + seconds(60));
  EXPECT_EQ(c->expires_at, c->at + seconds(2));
  auto d = throttler_->Acquire(Esi("/x/"), 1, seconds(10), "team-c");
  EXPECT_FALSE(d->granted);
  auto budgets = throttler_->ListBudgets();
  EXPECT_EQ(Find(budgets, G("gx"))->counters.waits, 1);
  EXPECT_GE(Find(budgets, G("gx"))->counters.denied, 1);
  // More than the budget can ever hold at once is an error, not a wait.
  auto big = throttler_->NextPermitted(Esi("/x/"), 3);
  EXPECT_TRUE(absl::IsOutOfRange(big.status())) << big.status();
}

TEST_F(ThrottlerTest, InvalidArgumentsNameTheField) {
  Make();
  EXPECT_TRUE(absl::IsInvalidArgument(throttler_->NextPermitted(Esi(""), 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(throttler_->NextPermitted(Esi("/a b/"), 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(throttler_->NextPermitted(Esi("/a/"), 0).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(throttler_->Acquire(Esi("/a/"), 1, seconds(-1), "x").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(throttler_->LeaseTokens("a", Esi("/a/"), 1001).status()));
  auto s = throttler_->NextPermitted(Poe("/a", "bad egress"), 1).status();
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("route.egress"), absl::string_view::npos);
  Observation o = Obs(Esi("/a/"), 1200, {});
  EXPECT_TRUE(absl::IsInvalidArgument(throttler_->Report(o)));
  // A status is 0 (transport failure) or 100..599, as on the wire.
  EXPECT_TRUE(absl::IsInvalidArgument(throttler_->Report(Obs(Esi("/a/"), 99, {}))));
  EXPECT_TRUE(absl::IsInvalidArgument(throttler_->ReturnTokens(1, 1001)));
}

TEST_F(ThrottlerTest, MalformedHeadersAreIgnoredAndNeverWiden) {
  Make();
  LearnEsi("/a/", "g");
  const int64_t before = Find(throttler_->ListBudgets(), G("g"))->window.remaining;
  HeaderList bad = {{"X-Ratelimit-Group", "g"},
                    {"X-Ratelimit-Limit", "not-a-limit"},
                    {"X-Ratelimit-Remaining", "lots"},
                    {"X-ESI-Error-Limit-Remain", "-4"},
                    {"Retry-After", "whenever"}};
  for (int i = 0; i < 3; ++i) Rep(Obs(Esi("/a/"), 200, bad));
  auto g = Find(throttler_->ListBudgets(), G("g"));
  EXPECT_EQ(g->window.limit, 600);
  EXPECT_EQ(g->window.remaining, before - 6);
  EXPECT_EQ(throttler_->problems(), 12);  // 4 problems x 3 reports, each logged once
}

// Arming (LeaseTokens with arm_before_use, then ArmTokens before each call):
// what a lease holds past its expiry is only what may have been sent.

TEST_F(ThrottlerTest, ArmingLeaseNeverArmedChargesNoErrorAndFreesEveryReservationAtExpiry) {
  Make();
  LearnEsi("/a/", "g");
  auto errors = [&] { return *Find(throttler_->ListBudgets(), kErrors); };
  auto group = [&] { return *Find(throttler_->ListBudgets(), G("g")); };
  const int64_t room = group().window.remaining;
  EXPECT_EQ(errors().window.remaining, 99);
  auto lease = throttler_->LeaseTokens("a", Esi("/a/"), 8, /*arm_before_use=*/true);
  ASSERT_TRUE(lease.ok());
  ASSERT_EQ(lease->granted, 8);
  EXPECT_TRUE(lease->arm_before_use);
  EXPECT_EQ(errors().outstanding_calls, 8);
  EXPECT_EQ(errors().window.remaining, 91);
  EXPECT_EQ(group().window.remaining, room - 40);

  // The holder dies without arming anything. Until expiry it could still arm.
  clock_.Set(lease->expires_at - milliseconds(1));
  EXPECT_EQ(errors().outstanding_calls, 8);
  clock_.Set(lease->expires_at);
  EXPECT_EQ(errors().outstanding_calls, 0) << "freed at expiry, not 35 s later";
  EXPECT_EQ(errors().window.remaining, 99);
  EXPECT_EQ(group().outstanding_calls, 0);
  EXPECT_EQ(group().window.remaining, room);
  EXPECT_EQ(errors().counters.unarmed, 8);

  // Past the lapse nothing is charged: no call was made.
  clock_.Set(lease->expires_at + seconds(40));
  EXPECT_EQ(errors().window.remaining, 99);
  EXPECT_EQ(errors().counters.lapsed, 0);
  EXPECT_EQ(group().window.remaining, room);
  EXPECT_TRUE(absl::IsNotFound(throttler_->ReturnTokens(lease->lease_id, 8)));
}

TEST_F(ThrottlerTest, ArmedAndUnreportedCallsAreChargedAtLapseAsBefore) {
  Make();
  LearnEsi("/a/", "g");
  auto lease = throttler_->LeaseTokens("a", Esi("/a/"), 5, /*arm_before_use=*/true);
  ASSERT_EQ(lease->granted, 5);
  auto armed = throttler_->ArmTokens("a", lease->lease_id, 1);
  ASSERT_TRUE(armed.ok()) << armed.status();
  EXPECT_EQ(*armed, 1);
  EXPECT_EQ(*throttler_->ArmTokens("a", lease->lease_id, 2), 3) << "arms add up";
  Rep(Obs(Esi("/a/"), 200, {}, lease->lease_id));  // one armed call reported; two may be in flight
  auto errors = [&] { return *Find(throttler_->ListBudgets(), kErrors); };
  auto group = [&] { return *Find(throttler_->ListBudgets(), G("g")); };
  EXPECT_EQ(errors().outstanding_calls, 4);

  clock_.Set(lease->expires_at);
  EXPECT_EQ(errors().outstanding_calls, 2) << "3 armed - 1 reported";
  EXPECT_EQ(group().outstanding_calls, 2);
  EXPECT_EQ(group().window.remaining, 592 - 2 - 10);
  // A late return of the holder's unspent tokens accounts for the unarmed
  // ones first: it never frees the reservation of a call that may be in flight.
  ASSERT_TRUE(throttler_->ReturnTokens(lease->lease_id, 2).ok());
  EXPECT_EQ(errors().outstanding_calls, 2);

  // As without arming: held until expiry + 30 s + 5 s grace, then charged at
  // worst (an error each; 5 units in the group), answered at expiry + 30 s.
  clock_.Set(lease->expires_at + seconds(34));
  EXPECT_EQ(errors().outstanding_calls, 2);
  clock_.Set(lease->expires_at + seconds(35));
  EXPECT_EQ(errors().outstanding_calls, 0);
  EXPECT_EQ(errors().counters.lapsed, 2);
  EXPECT_EQ(errors().window.remaining, 99 - 2);
  EXPECT_EQ(group().window.remaining, 592 - 2 - 10);
  EXPECT_EQ(group().counters.lapsed, 2);
}

TEST_F(ThrottlerTest, ArmingIsRefusedAfterExpiryAfterRevocationAndToAnotherHolder) {
  Make();
  LearnEsi("/a/", "g");
  auto lease = throttler_->LeaseTokens("a", Esi("/a/"), 3, /*arm_before_use=*/true);
  ASSERT_EQ(lease->granted, 3);
  const int64_t id = lease->lease_id;
  EXPECT_TRUE(absl::IsFailedPrecondition(throttler_->ArmTokens("b", id, 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(throttler_->ArmTokens("a", id, 0).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(throttler_->ArmTokens("a", id, 1001).status()));
  EXPECT_TRUE(absl::IsNotFound(throttler_->ArmTokens("a", id + 100, 1).status()));
  EXPECT_EQ(*throttler_->ArmTokens("a", id, 1), 1);
  EXPECT_EQ(*throttler_->ArmTokens("a", id, 10), 3) << "never more than granted";

  // A lease granted without arming cannot be armed (its calls need none).
  auto plain = throttler_->LeaseTokens("a", Esi("/a/"), 1);
  ASSERT_EQ(plain->granted, 1);
  EXPECT_FALSE(plain->arm_before_use);
  EXPECT_TRUE(absl::IsFailedPrecondition(throttler_->ArmTokens("a", plain->lease_id, 1).status()));

  // Expired on the coordinator's clock: refused, at expires_at exactly too.
  auto late = throttler_->LeaseTokens("a", Esi("/a/"), 2, /*arm_before_use=*/true);
  ASSERT_EQ(late->granted, 2);
  ASSERT_TRUE(throttler_->ArmTokens("a", late->lease_id, 1).ok());  // keeps it open
  clock_.Set(late->expires_at);
  auto refused = throttler_->ArmTokens("a", late->lease_id, 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();

  // Revoked (a bare 429 restricts the group): refused.
  auto revoked = throttler_->LeaseTokens("a", Esi("/a/"), 2, /*arm_before_use=*/true);
  ASSERT_EQ(revoked->granted, 2);
  Rep(Obs(Esi("/a/"), 429, {}));
  ASSERT_FALSE(revocations_.empty());
  refused = throttler_->ArmTokens("a", revoked->lease_id, 1);
  EXPECT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
}

TEST_F(ThrottlerTest, ArmingLeaseReportingMoreCallsThanItArmedKeepsThemAllToTheLapse) {
  Make();
  LearnEsi("/a/", "g");
  auto lease = throttler_->LeaseTokens("a", Esi("/a/"), 4, /*arm_before_use=*/true);
  ASSERT_EQ(lease->granted, 4);
  // A call on a token never armed: the holder does not keep its promise, so
  // nothing it armed (or did not) says what else it sent.
  Rep(Obs(Esi("/a/"), 200, {}, lease->lease_id));
  clock_.Set(lease->expires_at);
  EXPECT_EQ(Find(throttler_->ListBudgets(), kErrors)->outstanding_calls, 3);
  clock_.Set(lease->expires_at + seconds(35));
  EXPECT_EQ(Find(throttler_->ListBudgets(), kErrors)->counters.lapsed, 3);
}

TEST_F(ThrottlerTest, LeaseWithoutArmingKeepsEveryCallUntilItLapses) {
  Make();
  LearnEsi("/a/", "g");
  auto lease = throttler_->LeaseTokens("a", Esi("/a/"), 4);
  ASSERT_EQ(lease->granted, 4);
  EXPECT_FALSE(lease->arm_before_use);
  clock_.Set(lease->expires_at + seconds(1));
  EXPECT_EQ(Find(throttler_->ListBudgets(), kErrors)->outstanding_calls, 4);
  clock_.Set(lease->expires_at + seconds(35));
  auto errors = *Find(throttler_->ListBudgets(), kErrors);
  EXPECT_EQ(errors.outstanding_calls, 0);
  EXPECT_EQ(errors.counters.lapsed, 4);
  EXPECT_EQ(errors.counters.unarmed, 0);
  EXPECT_EQ(errors.window.remaining, 99 - 4);
}

}  // namespace
}  // namespace sluice::throttle
