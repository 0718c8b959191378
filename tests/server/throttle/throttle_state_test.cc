// No budget amnesia: snapshots round-trip through JSON, the persister
// coalesces writes, and a restarted throttler keeps restrictions, learned
// limits, ledgers and reservations.
#include "server/throttle/throttle_state.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "server/throttle/state_persister.h"
#include "server/throttle/state_store.h"
#include "server/throttle/throttler.h"

namespace sluice::throttle {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0 = FromUnixSeconds(1'700'000'000);

// The StateStore seam, in memory; Put can be told to fail.
class MemoryStateStore : public StateStore {
 public:
  absl::Status Put(const std::string& key, const std::string& json_value) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_) return absl::UnavailableError("store down");
    data_[key] = json_value;
    ++puts_;
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Get(const std::string& key) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = data_.find(key);
    if (it == data_.end()) return absl::NotFoundError(key);
    return it->second;
  }
  absl::Status Apply(const std::vector<Change>& changes) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_) return absl::UnavailableError("store down");
    for (const auto& [key, value] : changes) {
      if (value) {
        data_[key] = *value;
      } else {
        data_.erase(key);
      }
    }
    ++puts_;
    rows_written_ += static_cast<int>(changes.size());
    return absl::OkStatus();
  }
  absl::StatusOr<std::map<std::string, std::string>> List(const std::string& prefix) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : data_) {
      if (k.rfind(prefix, 0) == 0) out[k] = v;
    }
    return out;
  }
  void set_fail(bool fail) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = fail;
  }
  int puts() {
    std::lock_guard<std::mutex> lock(mu_);
    return puts_;
  }
  int rows_written() {
    std::lock_guard<std::mutex> lock(mu_);
    return rows_written_;
  }
  bool Has(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    return data_.count(key) != 0;
  }
  void Set(const std::string& key, const std::string& value) {
    std::lock_guard<std::mutex> lock(mu_);
    data_[key] = value;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> data_;
  bool fail_ = false;
  int puts_ = 0;
  int rows_written_ = 0;
};

CallKey Esi(const std::string& route) { return CallKey{Upstream::kEsi, route, ""}; }

// Public calls from an agent that named no egress.
constexpr char kGroupG[] = "esi/group/g/ip:unknown";
constexpr char kErrors[] = "esi/errors/ip:unknown";

Observation Obs(CallKey key, int status, HeaderList headers, int64_t lease_id = 0) {
  Observation o;
  o.key = std::move(key);
  o.status = status;
  o.headers = std::move(headers);
  o.lease_id = lease_id;
  o.response_age = Duration::zero();
  return o;
}

HeaderList Group(const std::string& group, int remaining, int used) {
  return {{"X-Ratelimit-Group", group},
          {"X-Ratelimit-Limit", "600/1m"},
          {"X-Ratelimit-Remaining", std::to_string(remaining)},
          {"X-Ratelimit-Used", std::to_string(used)},
          {"X-ESI-Error-Limit-Remain", "100"},
          {"X-ESI-Error-Limit-Reset", "60"}};
}

// A copy: listings are temporaries.
std::optional<BudgetInfo> Find(const std::vector<BudgetInfo>& budgets, const std::string& name) {
  for (const BudgetInfo& b : budgets) {
    if (b.name == name) return b;
  }
  return std::nullopt;
}

ThrottlerOptions Options() {
  ThrottlerOptions o;
  o.seed = 3;
  // These tests follow budgets across restarts, long after they refilled.
  o.idle_check_after = std::chrono::hours(24);
  return o;
}

// Learns /a/ -> group g (600/1m) and /poe -> policy p on a throttler.
void Teach(Throttler* t, FakeClock* clock) {
  auto l = t->LeaseTokens("a", Esi("/a/"), 1);
  ASSERT_EQ(l->granted, 1);
  ASSERT_TRUE(t->Report(Obs(Esi("/a/"), 200, Group("g", 598, 2), l->lease_id)).ok());
  CallKey poe{Upstream::kPoe, "/poe", "10.0.0.1"};
  auto p = t->LeaseTokens("a", poe, 1);
  ASSERT_EQ(p->granted, 1);
  ASSERT_TRUE(t->Report(Obs(poe, 200,
                            {{"X-Rate-Limit-Policy", "p"},
                             {"X-Rate-Limit-Rules", "Ip"},
                             {"X-Rate-Limit-Ip", "45:60:120"},
                             {"X-Rate-Limit-Ip-State", "1:60:0"}},
                            p->lease_id))
                  .ok());
  clock->Advance(milliseconds(10));
}

TEST(ThrottleStateTest, SnapshotRoundTripsThroughJson) {
  FakeClock clock(kT0);
  Throttler t(&clock, Options());
  Teach(&t, &clock);
  ASSERT_TRUE(t.Report(Obs(Esi("/a/"), 429, {{"Retry-After", "90"}})).ok());
  auto open = t.LeaseTokens("b", Esi("/b/"), 1);  // an open reservation
  ThrottleSnapshot s = t.Snapshot();
  std::string json = EncodeThrottleState(s);
  auto back = DecodeThrottleState(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(EncodeThrottleState(*back), json);
  EXPECT_EQ(back->map.esi_routes.size(), 1u);
  EXPECT_EQ(back->map.esi_groups.size(), 1u);
  EXPECT_EQ(back->map.poe_policies.size(), 1u);
  bool saw_restriction = false;
  for (const BudgetState& b : back->budgets) {
    if (b.name == kGroupG) {
      saw_restriction = b.restricted_until >= ToUnixSeconds(clock.Now() + seconds(90));
      EXPECT_FALSE(b.ledger.empty());
    }
  }
  EXPECT_TRUE(saw_restriction);
}

TEST(ThrottleStateTest, DecodeRejectsWhatItCannotTrust) {
  EXPECT_FALSE(DecodeThrottleState("not json").ok());
  EXPECT_FALSE(DecodeThrottleState("[1,2]").ok());
  EXPECT_FALSE(DecodeThrottleState(R"({"version": 99})").ok());
  EXPECT_FALSE(DecodeThrottleState(R"({"version": 1, "written_at": 1})").ok());
  EXPECT_FALSE(DecodeThrottleState(
                   R"({"version":1,"written_at":1,"clean_shutdown":true,"budgets":[{"name":"x"}],)"
                   R"("esi_routes":[],"esi_groups":[],"poe_routes":[],"poe_policies":[]})")
                   .ok());
  auto empty = DecodeThrottleState(
      R"({"version":1,"written_at":1,"clean_shutdown":true,"budgets":[],"esi_routes":[],)"
      R"("esi_groups":[],"poe_routes":[],"poe_policies":[],"some_future_field":1})");
  EXPECT_TRUE(empty.ok()) << empty.status();
}

TEST(ThrottleStateTest, RestartMidRestrictionKeepsItAndTheLearnedLimits) {
  FakeClock clock(kT0);
  MemoryStateStore store;
  TimePoint restricted_until;
  {
    Throttler t(&clock, Options());
    StatePersister persister(&t, &store);
    ASSERT_TRUE(persister.Load().ok());
    persister.Start();
    Teach(&t, &clock);
    ASSERT_TRUE(t.Report(Obs(Esi("/a/"), 429, {{"Retry-After", "120"}})).ok());
    restricted_until = Find(t.ListBudgets(), kGroupG)->restricted_until;
    ASSERT_GE(restricted_until, clock.Now() + seconds(120));
    ASSERT_TRUE(persister.Stop().ok());
  }
  clock.Advance(seconds(30));  // the coordinator was down for 30 s
  Throttler restarted(&clock, Options());
  StatePersister persister(&restarted, &store);
  ASSERT_TRUE(persister.Load().ok());

  auto next = restarted.NextPermitted(Esi("/a/"), 1);
  ASSERT_TRUE(next.ok());
  // Persisted with microsecond resolution, rounded up.
  EXPECT_GE(next->at, restricted_until);
  EXPECT_LE(next->at, restricted_until + std::chrono::microseconds(1));
  EXPECT_EQ(next->limiting_budget, kGroupG);
  auto lease = restarted.LeaseTokens("a", Esi("/a/"), 1);
  EXPECT_EQ(lease->granted, 0);
  EXPECT_EQ(lease->retry_at, next->at);

  auto budgets = restarted.ListBudgets();
  std::optional<BudgetInfo> g = Find(budgets, kGroupG);
  ASSERT_TRUE(g.has_value());
  EXPECT_TRUE(g->learned);
  EXPECT_TRUE(g->observed);  // clean shutdown: no probing needed
  EXPECT_EQ(g->window.limit, 600);
  EXPECT_EQ(g->window.period, seconds(60));
  EXPECT_EQ(g->counters.restrictions, 1);
  std::optional<BudgetInfo> tier = Find(budgets, "poe/p/ip/0/ip:10.0.0.1");
  ASSERT_TRUE(tier.has_value());
  EXPECT_EQ(tier->window.limit, 45);
  // The route mapping survived: /a/ is still in group g without relearning.
  EXPECT_EQ(
      restarted.NextPermitted(CallKey{Upstream::kPoe, "/poe", "10.0.0.1"}, 1)->limiting_budget, "");
  clock.Set(next->at);
  EXPECT_EQ(restarted.LeaseTokens("a", Esi("/a/"), 1)->granted, 1);
}

TEST(ThrottleStateTest, RestartKeepsAnExhaustedErrorLimit) {
  FakeClock clock(kT0);
  MemoryStateStore store;
  {
    Throttler t(&clock, Options());
    StatePersister persister(&t, &store);
    Teach(&t, &clock);
    ASSERT_TRUE(
        t.Report(Obs(Esi("/a/"), 420,
                     {{"X-ESI-Error-Limit-Remain", "0"}, {"X-ESI-Error-Limit-Reset", "45"}}))
            .ok());
    ASSERT_TRUE(persister.Stop().ok());
  }
  Throttler restarted(&clock, Options());
  StatePersister persister(&restarted, &store);
  ASSERT_TRUE(persister.Load().ok());
  auto next = restarted.NextPermitted(Esi("/anything/"), 1);
  ASSERT_TRUE(next.ok());
  EXPECT_GE(next->at, clock.Now() + seconds(45));
  EXPECT_EQ(next->limiting_budget, kErrors);
}

TEST(ThrottleStateTest, ReservationsAndLedgerSurviveARestart) {
  FakeClock clock(kT0);
  MemoryStateStore store;
  int64_t before = 0;
  {
    Throttler t(&clock, Options());
    StatePersister persister(&t, &store);
    Teach(&t, &clock);
    auto lease = t.LeaseTokens("a", Esi("/a/"), 10);  // still open at shutdown
    ASSERT_EQ(lease->granted, 10);
    before = Find(t.ListBudgets(), kGroupG)->window.remaining;
    ASSERT_TRUE(persister.Stop().ok());
  }
  Throttler restarted(&clock, Options());
  StatePersister persister(&restarted, &store);
  ASSERT_TRUE(persister.Load().ok());
  // The 10 open calls (50 reserved units) are restored as spent at their
  // worst: never more room than before the restart.
  EXPECT_EQ(Find(restarted.ListBudgets(), kGroupG)->window.remaining, before);
  // ...until a window after they could last have been answered.
  clock.Advance(seconds(2) + seconds(30) + seconds(61));
  EXPECT_EQ(Find(restarted.ListBudgets(), kGroupG)->window.remaining, 594);
}

TEST(ThrottleStateTest, AfterACrashEveryBudgetProbesFirst) {
  FakeClock clock(kT0);
  MemoryStateStore store;
  {
    Throttler t(&clock, Options());
    StatePersister persister(&t, &store);
    Teach(&t, &clock);
    ASSERT_TRUE(persister.Flush().ok());  // a periodic write; then the process dies
  }
  Throttler restarted(&clock, Options());
  StatePersister persister(&restarted, &store);
  ASSERT_TRUE(persister.Load().ok());
  EXPECT_FALSE(Find(restarted.ListBudgets(), kGroupG)->observed);
  EXPECT_EQ(restarted.LeaseTokens("a", Esi("/a/"), 10)->granted, 1);
  EXPECT_EQ(restarted.LeaseTokens("b", Esi("/a/"), 10)->granted, 0);
}

TEST(ThrottleStateTest, UnreadableStateIsReportedAndDefaultsHold) {
  FakeClock clock(kT0);
  MemoryStateStore store;
  store.Set(kThrottleStateKey, "{garbage");
  Throttler t(&clock, Options());
  StatePersister persister(&t, &store);
  EXPECT_FALSE(persister.Load().ok());
  EXPECT_TRUE(t.ListBudgets().empty());
  EXPECT_EQ(t.LeaseTokens("a", Esi("/a/"), 5)->granted, 1);  // probing default
}

TEST(ThrottleStateTest, PersisterCoalescesWritesAndSurvivesStoreFailures) {
  FakeClock clock(kT0);
  MemoryStateStore store;
  Throttler t(&clock, Options());
  StatePersisterOptions options;
  options.interval = milliseconds(20);
  StatePersister persister(&t, &store, options);
  persister.Start();
  Teach(&t, &clock);
  // The group's budget, made by Teach's answer, grants on its own
  // allowance once its first row is written.
  ASSERT_TRUE(persister.Flush().ok());
  for (int i = 0; i < 2000; ++i) {
    auto l = t.LeaseTokens("a", Esi("/a/"), 1);
    ASSERT_TRUE(t.ReturnTokens(l->lease_id, 1).ok());
  }
  std::this_thread::sleep_for(milliseconds(100));
  const int after_burst = store.puts();
  EXPECT_GE(after_burst, 1);
  EXPECT_LT(after_burst, 50);  // thousands of changes, a handful of writes
  // Idle: nothing changed, nothing written.
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(store.puts(), after_burst);

  store.set_fail(true);
  ASSERT_TRUE(t.Report(Obs(Esi("/a/"), 429, {{"Retry-After", "60"}})).ok());
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_GE(persister.failures(), 1);
  store.set_fail(false);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(persister.failures(), 0);
  ASSERT_TRUE(persister.Stop().ok());
  auto meta = DecodeThrottleMeta(*store.Get(kThrottleMetaKey));
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_TRUE(meta->clean_shutdown);
  EXPECT_TRUE(persister.Stop().ok());  // idempotent
}

TEST(ThrottleStateTest, WritesCarryOnlyTheBudgetsThatChanged) {
  FakeClock clock(kT0);
  MemoryStateStore store;
  Throttler t(&clock, Options());
  StatePersister persister(&t, &store);
  ASSERT_TRUE(persister.Load().ok());
  // 200 characters' buckets of one group.
  for (int id = 1; id <= 200; ++id) {
    CallKey key{Upstream::kEsi, "/characters/{id}/killmails/recent/", "10.0.0.1",
                absl::StrCat("char:", id)};
    auto l = t.LeaseTokens("a", key, 1);
    ASSERT_EQ(l->granted, 1);
    ASSERT_TRUE(t.Report(Obs(key, 200, Group("char-killmail", 28, 2), l->lease_id)).ok());
    // Past its first ESI call, an agent waits to be named as a holder of
    // the address's error-limit calls in a committed row.
    if (id == 1) {
      ASSERT_TRUE(persister.Flush().ok());
    }
  }
  ASSERT_TRUE(persister.Flush().ok());
  EXPECT_GE(persister.last_write().rows, 200);
  // One character calls again: its row (plus the address's error limit, the
  // map and the meta row) is all that is written.
  CallKey key{Upstream::kEsi, "/characters/{id}/killmails/recent/", "10.0.0.1", "char:7"};
  auto l = t.LeaseTokens("a", key, 1);
  ASSERT_TRUE(t.Report(Obs(key, 200, Group("char-killmail", 26, 4), l->lease_id)).ok());
  ASSERT_TRUE(persister.Flush().ok());
  EXPECT_EQ(persister.last_write().rows, 4);
  EXPECT_TRUE(store.Has(absl::StrCat(kThrottleBudgetKeyPrefix, "esi/group/char-killmail/char:7")));
}

TEST(ThrottleStateTest, IdleBudgetsLeaveTheStoreAndAFreshStartProbes) {
  FakeClock clock(kT0);
  MemoryStateStore store;
  ThrottlerOptions o = Options();
  o.idle_check_after = seconds(30);
  Throttler t(&clock, o);
  StatePersister persister(&t, &store);
  ASSERT_TRUE(persister.Load().ok());
  Teach(&t, &clock);
  ASSERT_TRUE(persister.Flush().ok());
  const std::string row = absl::StrCat(kThrottleBudgetKeyPrefix, kGroupG);
  ASSERT_TRUE(store.Has(row));
  clock.Advance(seconds(61));
  t.ListBudgets();
  clock.Advance(seconds(31));
  t.ListBudgets();  // dropped: refilled and idle
  ASSERT_TRUE(persister.Flush().ok());
  EXPECT_FALSE(store.Has(row));
}

TEST(ThrottleStateTest, AVersionOneDocumentStillTeachesTheRouteMap) {
  FakeClock clock(kT0);
  MemoryStateStore store;
  ThrottleSnapshot v1;
  v1.written_at = ToUnixSeconds(kT0);
  v1.clean_shutdown = true;
  v1.map.esi_routes.push_back({"/characters/{id}/killmails/recent/", "char-killmail"});
  v1.map.esi_groups.push_back({"char-killmail", 30, 900});
  BudgetState pooled;  // version 1: one budget for every caller
  pooled.name = "esi/group/char-killmail";
  pooled.kind = "esi_group";
  pooled.limit = 30;
  pooled.period_seconds = 900;
  v1.budgets.push_back(pooled);
  store.Set(kThrottleStateKey, EncodeThrottleState(v1));

  Throttler t(&clock, Options());
  StatePersister persister(&t, &store);
  ASSERT_TRUE(persister.Load().ok());
  // The pooled budget is left behind; the group's size is kept.
  CallKey key{Upstream::kEsi, "/characters/{id}/killmails/recent/", "", "char:5"};
  auto next = t.NextPermitted(key, 1);
  ASSERT_TRUE(next.ok());
  auto b = Find(t.ListBudgets(), "esi/group/char-killmail/char:5");
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->window.limit, 30);
  EXPECT_FALSE(Find(t.ListBudgets(), "esi/group/char-killmail").has_value());
  // Rewritten as version 2 rows; the old document is gone.
  EXPECT_FALSE(store.Has(kThrottleStateKey));
  EXPECT_TRUE(store.Has(kThrottleMetaKey));
}

}  // namespace
}  // namespace sluice::throttle
