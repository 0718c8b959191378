// Budgets belong to whom the upstream bills: per (ESI group, character), per
// (group, source address) for public calls, the error limit per address,
// PoE rules by their scope. Also the machinery that makes 100,000 callers
// affordable: idle budgets dropped, deltas of what changed, family listings.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/throttle/throttler.h"

namespace sluice::throttle {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const TimePoint kT0 = FromUnixSeconds(1'700'000'000);
const char kKillmails[] = "/characters/{id}/killmails/recent/";

CallKey Char(int64_t id, const std::string& route = kKillmails) {
  return CallKey{Upstream::kEsi, route, "10.0.0.1", absl::StrCat("char:", id)};
}
CallKey Public(const std::string& egress, const std::string& route = "/alliances/{id}/") {
  return CallKey{Upstream::kEsi, route, egress, ""};
}

HeaderList Group(const std::string& group, const std::string& limit, int remaining) {
  return {{"X-Ratelimit-Group", group},
          {"X-Ratelimit-Limit", limit},
          {"X-Ratelimit-Remaining", std::to_string(remaining)}};
}

std::optional<BudgetInfo> Find(const std::vector<BudgetInfo>& budgets, const std::string& name) {
  for (const BudgetInfo& b : budgets) {
    if (b.name == name) return b;
  }
  return std::nullopt;
}

class BudgetScopeTest : public ::testing::Test {
 protected:
  BudgetScopeTest() : clock_(kT0) {}

  void Make(ThrottlerOptions o = {}) {
    o.seed = 7;
    o.max_lease_fraction = 1.0;
    throttler_ = std::make_unique<Throttler>(&clock_, o);
    throttler_->AddRevocationListener(
        [this](const RevocationEvent& e) { revocations_.push_back(e); });
  }

  // Calls `key` until its budgets refuse, each answered 200 with `headers`.
  int SpendAll(const CallKey& key, const HeaderList& headers) {
    int calls = 0;
    while (true) {
      auto g = throttler_->LeaseTokens("agent", key, 100);
      EXPECT_TRUE(g.ok());
      if (!g.ok() || g->granted == 0) return calls;
      for (int i = 0; i < g->granted; ++i) {
        Observation o;
        o.key = key;
        o.status = 200;
        o.headers = headers;
        o.lease_id = g->lease_id;
        o.response_age = Duration::zero();
        EXPECT_TRUE(throttler_->Report(o).ok());
        ++calls;
      }
    }
  }

  void Answer(const CallKey& key, int status, HeaderList headers, int64_t lease_id = 0) {
    Observation o;
    o.key = key;
    o.status = status;
    o.headers = std::move(headers);
    o.lease_id = lease_id;
    o.response_age = Duration::zero();
    ASSERT_TRUE(throttler_->Report(o).ok());
  }

  FakeClock clock_;
  std::unique_ptr<Throttler> throttler_;
  std::vector<RevocationEvent> revocations_;
};

TEST_F(BudgetScopeTest, EachCharacterHasItsOwnBucketOfTheGroup) {
  Make();
  // 30 tokens / 15 min per character (ESI's char-killmail), margin 0.
  const HeaderList h = Group("char-killmail", "30/15m", 28);
  const int first = SpendAll(Char(1), h);
  EXPECT_GE(first, 14);  // 30 tokens at 2 per 2xx, less the 1% margin
  // Character 1 is spent; character 2 has its whole bucket, sized by what
  // character 1's answers taught.
  auto refused = throttler_->LeaseTokens("agent", Char(1), 1);
  EXPECT_EQ(refused->granted, 0);
  EXPECT_EQ(refused->limiting_budget, "esi/group/char-killmail/char:1");
  EXPECT_EQ(SpendAll(Char(2), h), first);
  auto b2 = Find(throttler_->ListBudgets(), "esi/group/char-killmail/char:2");
  ASSERT_TRUE(b2.has_value());
  EXPECT_EQ(b2->window.limit, 30);
  EXPECT_EQ(b2->window.period, minutes(15));
  EXPECT_TRUE(b2->learned);
}

TEST_F(BudgetScopeTest, PublicCallsAreBilledPerEgressAddress) {
  Make();
  const HeaderList h = Group("alliance", "20/1m", 18);
  const int one = SpendAll(Public("127.0.0.2"), h);
  EXPECT_GT(one, 0);
  // Another address has a budget of its own; an agent naming none shares
  // "unknown".
  EXPECT_EQ(SpendAll(Public("127.0.0.3"), h), one);
  EXPECT_EQ(SpendAll(Public(""), h), one);
  for (const char* name : {"esi/group/alliance/ip:127.0.0.2", "esi/group/alliance/ip:127.0.0.3",
                           "esi/group/alliance/ip:unknown", "esi/errors/ip:127.0.0.2"}) {
    EXPECT_TRUE(Find(throttler_->ListBudgets(), name).has_value()) << name;
  }
}

TEST_F(BudgetScopeTest, ARestrictionOnOneCharacterDoesNotStopTheOthers) {
  Make();
  SpendAll(Char(1), Group("char-killmail", "30/15m", 28));
  auto lease = throttler_->LeaseTokens("agent", Char(2), 1);
  ASSERT_EQ(lease->granted, 1);
  Answer(Char(1), 429, {{"X-Ratelimit-Group", "char-killmail"}, {"Retry-After", "600"}});
  ASSERT_EQ(revocations_.size(), 1u);
  EXPECT_EQ(revocations_[0].budget, "esi/group/char-killmail/char:1");
  EXPECT_TRUE(revocations_[0].leases.empty());  // character 2's lease is not touched
  EXPECT_GE(throttler_->NextPermitted(Char(1), 1)->at, clock_.Now() + seconds(600));
  EXPECT_EQ(throttler_->NextPermitted(Char(3), 1)->wait, Duration::zero());
  Answer(Char(2), 200, Group("char-killmail", "30/15m", 28), lease->lease_id);
}

TEST_F(BudgetScopeTest, A420OnOneEgressDoesNotStopTheOthers) {
  Make();
  SpendAll(Public("10.0.0.1"), Group("alliance", "600/1m", 598));
  Answer(Public("10.0.0.1"), 420,
         {{"X-ESI-Error-Limit-Remain", "0"}, {"X-ESI-Error-Limit-Reset", "40"}});
  ASSERT_FALSE(revocations_.empty());
  EXPECT_EQ(revocations_.back().budget, "esi/errors/ip:10.0.0.1");
  // Every ESI route of that address waits; the other address does not.
  EXPECT_GE(throttler_->NextPermitted(Public("10.0.0.1", "/status/"), 1)->at,
            clock_.Now() + seconds(40));
  EXPECT_GE(throttler_->NextPermitted(Char(5), 1)->at, clock_.Now() + seconds(40));
  EXPECT_EQ(throttler_->NextPermitted(Public("10.0.0.2"), 1)->wait, Duration::zero());
  CallKey elsewhere = Char(5);
  elsewhere.egress = "10.0.0.2";
  EXPECT_EQ(throttler_->NextPermitted(elsewhere, 1)->wait, Duration::zero());
}

TEST_F(BudgetScopeTest, PoeRulesAreScopedByTheirName) {
  Make();
  const HeaderList h = {
      {"X-Rate-Limit-Policy", "stash"},     {"X-Rate-Limit-Rules", "Ip,Account,Client,Odd"},
      {"X-Rate-Limit-Ip", "10:60:60"},      {"X-Rate-Limit-Ip-State", "1:60:0"},
      {"X-Rate-Limit-Account", "10:60:60"}, {"X-Rate-Limit-Account-State", "1:60:0"},
      {"X-Rate-Limit-Client", "100:60:60"}, {"X-Rate-Limit-Client-State", "1:60:0"},
      {"X-Rate-Limit-Odd", "100:60:60"},    {"X-Rate-Limit-Odd-State", "1:60:0"}};
  CallKey a{Upstream::kPoe, "/public-stash-tabs", "10.0.0.1", "account:alice"};
  CallKey b{Upstream::kPoe, "/public-stash-tabs", "10.0.0.2", "account:bob"};
  SpendAll(a, h);
  const auto budgets = throttler_->ListBudgets();
  for (const char* name : {"poe/stash/ip/0/ip:10.0.0.1", "poe/stash/account/0/account:alice",
                           "poe/stash/client/0/client", "poe/stash/odd/0/global"}) {
    EXPECT_TRUE(Find(budgets, name).has_value()) << name;
  }
  // Bob, from another address, has his own Ip and Account budgets; the
  // Client and unknown rules are shared.
  auto next = throttler_->NextPermitted(b, 1);
  EXPECT_EQ(next->wait, Duration::zero()) << next->limiting_budget;
}

TEST_F(BudgetScopeTest, ARefusalOnASpentWindowSaysWhenItRefills) {
  ThrottlerOptions o;
  o.max_lease_fraction = 0.25;
  Make(o);
  const HeaderList h = Group("character", "20/30s", 18);
  const CallKey key = Public("10.0.0.1", "/characters/{id}/");
  SpendAll(key, h);
  clock_.Advance(seconds(1));
  auto refused = throttler_->LeaseTokens("agent", key, 16);
  ASSERT_EQ(refused->granted, 0);
  // Not "ask again in 200 ms": nothing comes back before the window does.
  EXPECT_GE(refused->retry_at, clock_.Now() + seconds(28)) << refused->limiting_budget;
  // A call in flight could come back unspent, but even then there would be
  // no room: still the window's time, not a hint.
  clock_.Advance(seconds(29));
  auto one = throttler_->LeaseTokens("agent", key, 1);
  ASSERT_EQ(one->granted, 1);
  auto after = throttler_->LeaseTokens("agent", key, 1);
  if (after->granted == 0) {
    EXPECT_GT(after->retry_at, clock_.Now() + milliseconds(200));
  }
}

TEST_F(BudgetScopeTest, IdleBudgetsAreDroppedAndComeBackWhenUsed) {
  ThrottlerOptions o;
  o.idle_check_after = seconds(30);
  Make(o);
  const HeaderList h = Group("char-killmail", "30/15m", 28);
  for (int id = 1; id <= 1000; ++id) {
    auto g = throttler_->LeaseTokens("agent", Char(id), 1);
    ASSERT_EQ(g->granted, 1);
    Answer(Char(id), 200, h, g->lease_id);
  }
  const size_t busy = throttler_->budget_count();
  EXPECT_GE(busy, 1000u);
  // Spent tokens come back after 15 minutes; until then nothing is idle.
  clock_.Advance(minutes(10));
  throttler_->ListBudgets();  // any call sweeps
  EXPECT_GE(throttler_->budget_count(), 1000u);
  clock_.Advance(minutes(6));
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(seconds(31));
    throttler_->ListBudgets();
  }
  // The address's error limit is kept; every character's bucket is gone.
  for (const BudgetInfo& b : throttler_->ListBudgets()) {
    EXPECT_EQ(b.name, "esi/errors/ip:10.0.0.1");
  }
  // The family remembers what it granted; a character used again gets its
  // bucket back, with the group's learned size.
  BudgetQuery q;
  q.match = "esi/group/char-killmail";
  BudgetListing listing = throttler_->ListBudgetFamilies(q);
  ASSERT_EQ(listing.families.size(), 1u);
  // The first call probed the route before its group was known.
  EXPECT_EQ(listing.families[0].counters.granted, 999);
  EXPECT_EQ(listing.families[0].budgets, 0);
  ASSERT_EQ(throttler_->LeaseTokens("agent", Char(17), 1)->granted, 1);
  EXPECT_EQ(Find(throttler_->ListBudgets(), "esi/group/char-killmail/char:17")->window.limit, 30);
}

TEST_F(BudgetScopeTest, DeltasCarryOnlyWhatChangedAndWhatWasDropped) {
  ThrottlerOptions o;
  o.idle_check_after = seconds(30);
  Make(o);
  const HeaderList h = Group("char-killmail", "30/15m", 28);
  for (int id = 1; id <= 100; ++id) {
    auto g = throttler_->LeaseTokens("agent", Char(id), 1);
    Answer(Char(id), 200, h, g->lease_id);
  }
  ThrottleDelta first = throttler_->TakeDelta();
  EXPECT_GE(first.budgets.size(), 100u);  // 100 characters' buckets and the error limit
  EXPECT_TRUE(first.removed.empty());
  // One character calls again: its bucket (and the address's error limit)
  // is all that is written.
  auto g = throttler_->LeaseTokens("agent", Char(42), 1);
  Answer(Char(42), 200, h, g->lease_id);
  ThrottleDelta second = throttler_->TakeDelta();
  std::vector<std::string> names;
  for (const BudgetState& b : second.budgets) names.push_back(b.name);
  EXPECT_EQ(names.size(), 2u);
  EXPECT_NE(std::find(names.begin(), names.end(), "esi/group/char-killmail/char:42"), names.end());
  // Once idle, the buckets are dropped and their rows deleted.
  clock_.Advance(minutes(16));
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(seconds(31));
    throttler_->ListBudgets();
  }
  ThrottleDelta third = throttler_->TakeDelta();
  int characters = 0;
  for (const std::string& name : third.removed) {
    characters += absl::StartsWith(name, "esi/group/char-killmail/char:") ? 1 : 0;
  }
  EXPECT_EQ(characters, 100);
}

TEST_F(BudgetScopeTest, ADeltaComesInBoundedChunksThatTogetherCarryEveryChange) {
  // The persister takes changes a chunk at a time, so the decision lock is
  // never held for all of them at once; nothing is lost or repeated.
  ThrottlerOptions o;
  o.idle_check_after = seconds(30);
  Make(o);
  const HeaderList h = Group("char-killmail", "30/15m", 28);
  for (int id = 1; id <= 1000; ++id) {
    auto g = throttler_->LeaseTokens("agent", Char(id), 1);
    Answer(Char(id), 200, h, g->lease_id);
  }
  std::set<std::string> names;
  int chunks = 0;
  ThrottleDelta d;
  do {
    d = throttler_->TakeDelta(64);
    EXPECT_LE(d.budgets.size(), 64u);
    for (const BudgetState& b : d.budgets) EXPECT_TRUE(names.insert(b.name).second) << b.name;
    ++chunks;
  } while (d.more);
  EXPECT_GE(chunks, 1000 / 64);
  int characters = 0;
  for (const std::string& n : names) {
    characters += absl::StartsWith(n, "esi/group/char-killmail/char:") ? 1 : 0;
  }
  EXPECT_EQ(characters, 1000);
  EXPECT_TRUE(throttler_->TakeDelta(64).budgets.empty()) << "all taken";
  // Drops come in chunks too.
  clock_.Advance(minutes(16));
  for (int i = 0; i < 10; ++i) {
    clock_.Advance(seconds(31));
    throttler_->ListBudgets();
  }
  std::set<std::string> removed;
  do {
    d = throttler_->TakeDelta(64);
    EXPECT_LE(d.removed.size(), 64u);
    removed.insert(d.removed.begin(), d.removed.end());
  } while (d.more);
  characters = 0;
  for (const std::string& n : removed) {
    characters += absl::StartsWith(n, "esi/group/char-killmail/char:") ? 1 : 0;
  }
  EXPECT_EQ(characters, 1000);
}

TEST_F(BudgetScopeTest, FamiliesListTheMostConstrainedAndAMatchShowsOneCaller) {
  Make();
  const HeaderList h = Group("char-killmail", "30/15m", 28);
  for (int id = 1; id <= 50; ++id) {
    auto g = throttler_->LeaseTokens("agent", Char(id), 1);
    Answer(Char(id), 200, h, g->lease_id);
  }
  SpendAll(Char(7), h);
  Answer(Char(9), 429, {{"X-Ratelimit-Group", "char-killmail"}, {"Retry-After", "60"}});
  BudgetQuery q;
  q.top = 2;
  BudgetListing all = throttler_->ListBudgetFamilies(q);
  const FamilyInfo* family = nullptr;
  for (const FamilyInfo& f : all.families) {
    if (f.name == "esi/group/char-killmail") family = &f;
  }
  ASSERT_NE(family, nullptr);
  EXPECT_EQ(family->budgets, 50);
  EXPECT_EQ(family->restricted, 1);
  EXPECT_GE(family->exhausted, 2);
  ASSERT_EQ(family->most_constrained.size(), 2u);
  EXPECT_EQ(family->most_constrained[0].scope, "char:9");  // restricted first
  EXPECT_EQ(family->most_constrained[1].scope, "char:7");  // then the emptiest
  EXPECT_EQ(family->routes, std::vector<std::string>{"esi /characters/{id}/killmails/recent/"});

  q.match = "char:7";
  BudgetListing one = throttler_->ListBudgetFamilies(q);
  ASSERT_EQ(one.budgets.size(), 1u);
  EXPECT_EQ(one.budgets[0].name, "esi/group/char-killmail/char:7");
}

// Snapshot and ListBudgetFamilies walk the budgets a chunk at a time,
// releasing the decision lock in between: with many more budgets than a
// chunk, and decisions on other budgets running meanwhile, they still list
// every budget once, in order, and a restore of the snapshot knows what the
// original knew.
TEST_F(BudgetScopeTest, WalksInChunksListEveryBudgetWhileDecisionsRun) {
  Make();
  const HeaderList h = Group("char-killmail", "30/15m", 28);
  constexpr int kCharacters = 2000;  // several chunks of every walk
  for (int id = 1; id <= kCharacters; ++id) {
    auto g = throttler_->LeaseTokens("agent", Char(id), 1);
    ASSERT_EQ(g->granted, 1);
    Answer(Char(id), 200, h, g->lease_id);
  }
  // One call in flight for the first 50 characters (the address's error
  // limit, 100, bounds the calls in flight).
  constexpr int kOpen = 50;
  for (int id = 1; id <= kOpen; ++id) {
    ASSERT_EQ(throttler_->LeaseTokens("agent", Char(id), 1)->granted, 1);
  }
  const size_t budgets = throttler_->budget_count();
  std::atomic<bool> stop{false};
  std::thread decisions([&] {
    while (!stop.load()) (void)throttler_->NextPermitted(Public("10.0.0.9"), 1);
  });
  ThrottleSnapshot snapshot = throttler_->Snapshot();
  BudgetQuery all;
  BudgetListing listing = throttler_->ListBudgetFamilies(all);
  stop = true;
  decisions.join();

  // The decisions thread made budgets of its own (address 10.0.0.9): the
  // walks may or may not have seen those, but every character's is there once.
  std::vector<std::string> names;
  for (const BudgetState& b : snapshot.budgets) names.push_back(b.name);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  int characters = 0, in_flight = 0;
  for (const BudgetState& b : snapshot.budgets) {
    if (!absl::StartsWith(b.name, "esi/group/char-killmail/char:")) continue;
    ++characters;
    in_flight += static_cast<int>(b.in_flight_calls);
    EXPECT_EQ(b.ledger.size(), 1u) << b.name;
  }
  EXPECT_EQ(in_flight, kOpen);
  EXPECT_EQ(characters, kCharacters);
  EXPECT_GE(names.size(), budgets);
  int64_t listed = 0;
  for (const FamilyInfo& f : listing.families) {
    if (f.name == "esi/group/char-killmail") {
      // The characters' buckets, and the decisions thread's address's if
      // the walk came by after it was made.
      EXPECT_GE(f.budgets, kCharacters);
      EXPECT_LE(f.budgets, kCharacters + 1);
      EXPECT_EQ(f.most_constrained.size(), 5u);
    }
    listed += f.budgets;
  }
  EXPECT_GE(listed, static_cast<int64_t>(budgets));

  // A restore of the walked snapshot has every character's spend and call
  // in flight: the same room as the original.
  Throttler restored(&clock_, ThrottlerOptions{});
  ASSERT_TRUE(restored.Restore(snapshot).ok());
  for (const char* name : {"esi/group/char-killmail/char:7", "esi/group/char-killmail/char:1234"}) {
    EXPECT_EQ(Find(restored.ListBudgets(), name)->window.remaining,
              Find(throttler_->ListBudgets(), name)->window.remaining)
        << name;
  }
}

}  // namespace
}  // namespace sluice::throttle
