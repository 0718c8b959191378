// A takeover never overshoots a budget: a throttler granting as fast as it
// can, persisting to PostgreSQL (PgStateStore) every 500 ms, is killed
// (destroyed without Stop) at random points, possibly with its last write
// failing before or after the commit, and possibly granting on for a while
// after its successor restored (a deposed leader that has not noticed yet);
// a second throttler restored from the store takes over. Every call either
// makes is counted by an upstream model on the same fake clock, which
// counts a violation whenever a call arrives with the window already full.
// Also: a write that fails stops grants once the allowance is used, and the
// allowance does not cut what a busy budget is granted.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/store/pg_pool.h"
#include "server/store/pg_state_store.h"
#include "server/throttle/state_persister.h"
#include "server/throttle/throttle_state.h"
#include "server/throttle/throttler.h"
#include "tests/support/migrated_pool.h"
#include "tests/support/test_database.h"

namespace sluice::throttle {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0 = FromUnixSeconds(1'700'000'000);
constexpr Duration kStep = milliseconds(20);
constexpr Duration kPersistEvery = milliseconds(500);

// The state store as a leader sees it: it may refuse a write before the
// commit (database away, or fenced off) or lose the answer after it.
class FlakyStore : public StateStore {
 public:
  enum class Mode { kOk, kFailBeforeCommit, kFailAfterCommit };
  explicit FlakyStore(StateStore* real) : real_(real) {}
  void set_mode(Mode mode) { mode_ = mode; }

  absl::Status Put(const std::string& key, const std::string& value) override {
    return real_->Put(key, value);
  }
  absl::StatusOr<std::string> Get(const std::string& key) override { return real_->Get(key); }
  absl::StatusOr<std::map<std::string, std::string>> List(const std::string& prefix) override {
    return real_->List(prefix);
  }
  absl::Status Apply(const std::vector<Change>& changes) override {
    if (mode_ == Mode::kFailBeforeCommit) return absl::UnavailableError("refused");
    absl::Status s = real_->Apply(changes);
    if (mode_ == Mode::kFailAfterCommit && s.ok()) return absl::UnavailableError("answer lost");
    return s;
  }

 private:
  StateStore* real_;
  Mode mode_ = Mode::kOk;
};

// The upstream: one floating window of `limit` units per `period`, counted
// when a call arrives. A call arriving when the window cannot take its cost
// is a violation.
class UpstreamWindow {
 public:
  UpstreamWindow(int64_t limit, Duration period, int64_t cost)
      : limit_(limit), period_(period), cost_(cost) {}

  // Returns the units counted, this call included.
  int64_t Call(TimePoint t) {
    const int64_t used = Used(t);
    if (used + cost_ > limit_) ++violations_;
    hits_.push_back(t);
    ++calls_;
    return used + cost_;
  }
  int64_t Used(TimePoint t) {
    while (!hits_.empty() && hits_.front() + period_ <= t) hits_.pop_front();
    return static_cast<int64_t>(hits_.size()) * cost_;
  }
  int64_t violations() const { return violations_; }
  int64_t calls() const { return calls_; }

 private:
  int64_t limit_;
  Duration period_;
  int64_t cost_;
  std::deque<TimePoint> hits_;
  int64_t violations_ = 0;
  int64_t calls_ = 0;
};

// ESI's error limit of one address: `limit` errors per fixed window, which
// starts with the first call. A call arriving when none is left is a
// violation (ESI answers it 420).
class UpstreamErrorLimit {
 public:
  UpstreamErrorLimit(int64_t limit, Duration window) : limit_(limit), window_(window) {}

  // The status the call is answered with: `error` says whether it fails.
  int Call(TimePoint t, bool error) {
    if (!end_ || t >= *end_) {
      end_ = t + window_;
      remain_ = limit_;
    }
    if (remain_ == 0) {
      ++violations_;
      return 420;
    }
    if (!error) return 200;
    --remain_;
    return 500;
  }
  int64_t remain() const { return remain_; }
  int64_t violations() const { return violations_; }
  // The headers ESI sends with an answer at `t` (after counting it).
  HeaderList Headers(TimePoint t) const {
    const int64_t reset =
        end_ ? std::max<int64_t>(0, std::chrono::ceil<seconds>(*end_ - t).count()) : 60;
    return HeaderList{{"X-ESI-Error-Limit-Remain", std::to_string(remain_)},
                      {"X-ESI-Error-Limit-Reset", std::to_string(reset)}};
  }

 private:
  int64_t limit_;
  Duration window_;
  std::optional<TimePoint> end_;
  int64_t remain_ = 0;
  int64_t violations_ = 0;
};

// One upstream allowance the way a test drives it: the call key and the
// headers its answers carry.
struct Shape {
  CallKey key;
  int64_t limit;
  Duration period;
  int64_t cost;  // units one 2xx costs upstream
  std::function<HeaderList(int64_t used)> headers;
};

Shape PoeShape() {
  return Shape{CallKey{Upstream::kPoe, "/stash", "10.0.0.1"}, 30, seconds(10), 1, [](int64_t used) {
                 return HeaderList{{"X-Rate-Limit-Policy", "p"},
                                   {"X-Rate-Limit-Rules", "Ip"},
                                   {"X-Rate-Limit-Ip", "30:10:60"},
                                   {"X-Rate-Limit-Ip-State", absl::StrCat(used, ":10:0")}};
               }};
}

Shape EsiShape() {
  return Shape{CallKey{Upstream::kEsi, "/characters/{id}/", "10.0.0.1", "char:1"}, 600, seconds(60),
               2, [](int64_t used) {
                 return HeaderList{{"X-Ratelimit-Group", "g"},
                                   {"X-Ratelimit-Limit", "600/1m"},
                                   {"X-Ratelimit-Remaining", std::to_string(600 - used)},
                                   {"X-Ratelimit-Used", std::to_string(used)}};
               }};
}

ThrottlerOptions Options() {
  ThrottlerOptions o;
  o.seed = 7;
  return o;
}

// What the upstream answered one call: status and headers.
struct Answer {
  int status = 200;
  HeaderList headers;
};

// An agent of one throttler: leases as much as it is granted (at most
// `max_per_step` calls a step), sends each call at once and reports it one
// step later (calls not yet reported when the throttler dies are lost with
// it).
class Driver {
 public:
  using Call = std::function<Answer(TimePoint)>;
  Driver(Throttler* t, UpstreamWindow* upstream, const Shape& shape, const Clock* clock)
      : Driver(
            t, shape.key,
            [upstream, headers = shape.headers](TimePoint now) {
              return Answer{200, headers(upstream->Call(now))};
            },
            clock) {}
  Driver(Throttler* t, CallKey key, Call call, const Clock* clock, int64_t max_per_step = 1 << 30,
         std::string agent_id = "agent", std::string instance = "")
      : t_(t),
        key_(std::move(key)),
        call_(std::move(call)),
        clock_(clock),
        max_per_step_(max_per_step),
        agent_id_(std::move(agent_id)),
        instance_(std::move(instance)) {}

  void Step() {
    const TimePoint now = clock_->Now();
    std::vector<Observation> due;
    for (Observation& o : pending_) due.push_back(std::move(o));
    pending_.clear();
    for (Observation& o : due) ASSERT_TRUE(t_->Report(o).ok());
    int64_t sent = 0;
    while (sent < max_per_step_) {
      absl::StatusOr<LeaseGrant> g = t_->LeaseTokens(
          agent_id_, key_, static_cast<int>(std::min<int64_t>(8, max_per_step_ - sent)),
          /*arm_before_use=*/false, instance_);
      ASSERT_TRUE(g.ok()) << g.status();
      if (g->granted == 0) break;
      granted_ += g->granted;
      sent += g->granted;
      for (int64_t i = 0; i < g->granted; ++i) {
        Answer answer = call_(now);
        if (answer.status == 0 || answer.status >= 400) failed_at_.push_back(now);
        Observation o;
        o.key = key_;
        o.status = answer.status;
        o.headers = std::move(answer.headers);
        o.lease_id = g->lease_id;
        o.sent_age = kStep;
        o.response_age = kStep;
        pending_.push_back(std::move(o));
      }
    }
  }
  int64_t granted() const { return granted_; }
  // What the agent tells a throttler that took over once its calls are
  // answered: every error it had (each call is sent and answered within
  // its step), listed back to a minute before its first call (its process
  // was up, without errors, for that minute).
  // A process named by an instance lists every error of its life instead.
  Throttler::SettledReport Settled(uint64_t settled_before, bool list_errors = true) const {
    Throttler::SettledReport r;
    r.settled_before = settled_before;
    r.instance = instance_;
    if (!list_errors) return r;
    const TimePoint now = clock_->Now();
    if (instance_.empty()) {
      r.errors_cover = now - kT0 + seconds(60);
    } else {
      r.errors_cover = now - kT0;
      r.errors_since_start = true;
    }
    for (TimePoint at : failed_at_) {
      Observation o;
      o.key = key_;
      o.status = 500;
      o.sent_age = now - at;
      o.response_age = now - at;
      r.errors.push_back(std::move(o));
    }
    return r;
  }

 private:
  Throttler* t_;
  CallKey key_;
  Call call_;
  const Clock* clock_;
  int64_t max_per_step_;
  std::string agent_id_;
  std::string instance_;
  std::vector<TimePoint> failed_at_;
  std::vector<Observation> pending_;
  int64_t granted_ = 0;
};

class TakeoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = testing::MigratedPool(db_.dsn(), 2);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    store_ = std::make_unique<PgStateStore>(pool_.get());
  }
  void ClearState() { db_.Query("DELETE FROM system_state WHERE key LIKE 'throttle/%'"); }

  testing::TestDatabase db_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<PgStateStore> store_;
};

// Runs one kill and takeover; returns the upstream's violations.
struct Trial {
  Duration run_before_kill;
  FlakyStore::Mode last_write;  // of the old leader's last write (and after)
  Duration old_keeps_granting;  // after its last write, and after the takeover
};

int64_t RunTrial(StateStore* store, const Shape& shape, const Trial& trial, int64_t* old_granted,
                 int64_t* new_granted) {
  FakeClock clock(kT0);
  UpstreamWindow upstream(shape.limit, shape.period, shape.cost);
  FlakyStore old_store(store);
  auto old_leader = std::make_unique<Throttler>(&clock, Options());
  auto old_persister = std::make_unique<StatePersister>(old_leader.get(), &old_store);
  EXPECT_TRUE(old_persister->Load().ok());
  Driver old_agent(old_leader.get(), &upstream, shape, &clock);
  TimePoint next_write = clock.Now() + kPersistEvery;
  const TimePoint kill_at = clock.Now() + trial.run_before_kill;
  while (clock.Now() < kill_at) {
    old_agent.Step();
    clock.Advance(kStep);
    if (clock.Now() >= next_write) {
      old_persister->Flush().IgnoreError();
      next_write += kPersistEvery;
    }
  }
  // Its last write: committed, lost, or committed with the answer lost.
  old_store.set_mode(trial.last_write);
  old_persister->Flush().IgnoreError();
  // From here on its writes are refused (fenced off or the database away).
  old_store.set_mode(FlakyStore::Mode::kFailBeforeCommit);

  // The standby takes over from what is stored while the old leader, not
  // knowing yet, grants on for a while (or is dead already).
  auto new_leader = std::make_unique<Throttler>(&clock, Options());
  StatePersister new_persister(new_leader.get(), store);
  EXPECT_TRUE(new_persister.Load().ok());
  Driver new_agent(new_leader.get(), &upstream, shape, &clock);
  const TimePoint old_dies = clock.Now() + trial.old_keeps_granting;
  const TimePoint end = clock.Now() + 3 * shape.period;
  next_write = clock.Now() + kPersistEvery;
  while (clock.Now() < end) {
    if (old_leader != nullptr && clock.Now() >= old_dies) {
      // Killed: no Stop, no final write.
      old_persister.reset();
      old_leader.reset();
    }
    if (old_leader != nullptr) {
      old_agent.Step();
      if (clock.Now() >= next_write) old_persister->Flush().IgnoreError();
    }
    new_agent.Step();
    clock.Advance(kStep);
    if (clock.Now() >= next_write) {
      EXPECT_TRUE(new_persister.Flush().ok());
      next_write += kPersistEvery;
    }
  }
  *old_granted = old_agent.granted();
  *new_granted = new_agent.granted();
  return upstream.violations();
}

TEST_F(TakeoverTest, KilledLeaderAndRestoredStandbyNeverOvershootAWindow) {
  std::mt19937_64 rng(20260514);
  const FlakyStore::Mode modes[] = {FlakyStore::Mode::kOk, FlakyStore::Mode::kFailBeforeCommit,
                                    FlakyStore::Mode::kFailAfterCommit};
  int64_t total_old = 0;
  int64_t total_new = 0;
  for (const Shape& shape : {PoeShape(), EsiShape()}) {
    for (int i = 0; i < 12; ++i) {
      ClearState();
      Trial trial;
      trial.run_before_kill = milliseconds(std::uniform_int_distribution<int>(1000, 25000)(rng));
      trial.last_write = modes[i % 3];
      trial.old_keeps_granting = milliseconds(std::uniform_int_distribution<int>(0, 2000)(rng));
      int64_t old_granted = 0;
      int64_t new_granted = 0;
      const int64_t violations = RunTrial(store_.get(), shape, trial, &old_granted, &new_granted);
      EXPECT_EQ(violations, 0) << shape.key.Label() << " killed after "
                               << trial.run_before_kill.count() / 1000000 << " ms, last write mode "
                               << static_cast<int>(trial.last_write) << ", granting on for "
                               << trial.old_keeps_granting.count() / 1000000 << " ms";
      // Both did work: the old leader filled windows, the new one took over.
      EXPECT_GT(old_granted, 0);
      EXPECT_GT(new_granted, 0);
      total_old += old_granted;
      total_new += new_granted;
    }
  }
  std::printf("takeovers: 24, calls granted by the old leaders %lld, by the new ones %lld\n",
              static_cast<long long>(total_old), static_cast<long long>(total_new));
}

TEST_F(TakeoverTest, AFailingWriteStopsGrantsOnceTheAllowanceIsUsed) {
  ClearState();
  FakeClock clock(kT0);
  const Shape shape = PoeShape();
  UpstreamWindow upstream(shape.limit, shape.period, shape.cost);
  FlakyStore store(store_.get());
  Throttler t(&clock, Options());
  StatePersister persister(&t, &store);
  ASSERT_TRUE(persister.Load().ok());
  Driver agent(&t, &upstream, shape, &clock);
  for (int i = 0; i < 200; ++i) {  // 4 s
    agent.Step();
    clock.Advance(kStep);
    if (i % 25 == 24) {
      ASSERT_TRUE(persister.Flush().ok());
    }
  }
  // The row a takeover would read now, and what was granted when it was taken.
  const std::string budget = "poe/p/ip/0/ip:10.0.0.1";
  absl::StatusOr<std::string> row = store_->Get(absl::StrCat(kThrottleBudgetKeyPrefix, budget));
  ASSERT_TRUE(row.ok()) << row.status();
  absl::StatusOr<BudgetState> committed = DecodeBudgetState(*row);
  ASSERT_TRUE(committed.ok());
  ASSERT_TRUE(committed->allowance.has_value());
  const int64_t granted_at_row = agent.granted();

  store.set_mode(FlakyStore::Mode::kFailBeforeCommit);
  for (int i = 0; i < 1500; ++i) {  // 30 s: three windows come back meanwhile
    agent.Step();
    clock.Advance(kStep);
    if (i % 25 == 24) {
      EXPECT_FALSE(persister.Flush().ok());
    }
  }
  const int64_t granted_while_failing = agent.granted() - granted_at_row;
  // The allowance bounds them (one call costs one unit here), and it is
  // small next to the three windows that came back meanwhile.
  EXPECT_LE(granted_while_failing, *committed->allowance);
  EXPECT_LT(granted_while_failing, shape.limit);

  store.set_mode(FlakyStore::Mode::kOk);
  ASSERT_TRUE(persister.Flush().ok());
  for (int i = 0; i < 100; ++i) {
    agent.Step();
    clock.Advance(kStep);
    if (i % 25 == 24) {
      ASSERT_TRUE(persister.Flush().ok());
    }
  }
  EXPECT_GT(agent.granted() - granted_at_row, granted_while_failing);  // grants resumed
  EXPECT_EQ(upstream.violations(), 0);
}

// What one busy budget is granted over 2 minutes with the state persisted
// every 500 ms (allowance kept), against the same throttler not persisted.
int64_t GrantedOverTwoMinutes(StateStore* store, const Shape& shape) {
  FakeClock clock(kT0);
  UpstreamWindow upstream(shape.limit, shape.period, shape.cost);
  Throttler t(&clock, Options());
  std::unique_ptr<StatePersister> persister;
  if (store != nullptr) {
    persister = std::make_unique<StatePersister>(&t, store);
    EXPECT_TRUE(persister->Load().ok());
  }
  Driver agent(&t, &upstream, shape, &clock);
  const TimePoint end = clock.Now() + seconds(120);
  TimePoint next_write = clock.Now() + kPersistEvery;
  while (clock.Now() < end) {
    agent.Step();
    clock.Advance(kStep);
    if (persister != nullptr && clock.Now() >= next_write) {
      EXPECT_TRUE(persister->Flush().ok());
      next_write += kPersistEvery;
    }
  }
  EXPECT_EQ(upstream.violations(), 0);
  return agent.granted();
}

TEST_F(TakeoverTest, TheAllowanceDoesNotCutWhatABusyBudgetIsGranted) {
  for (const Shape& shape : {PoeShape(), EsiShape()}) {
    ClearState();
    const int64_t persisted = GrantedOverTwoMinutes(store_.get(), shape);
    const int64_t unpersisted = GrantedOverTwoMinutes(nullptr, shape);
    std::printf("%s: %lld calls granted in 120 s with the allowance, %lld without\n",
                shape.key.Label().c_str(), static_cast<long long>(persisted),
                static_cast<long long>(unpersisted));
    EXPECT_GE(static_cast<double>(persisted), 0.98 * static_cast<double>(unpersisted))
        << shape.key.Label();
  }
}

// ESI's error limit is per address and every ESI call of the address draws
// on it; on a grouped route no answer carries its headers. What the old
// leader's calls cost it since its last committed row is in no row: the row's
// allowance bounds those errors plus the reservations open at the row, and
// the new leader charges it. Without that it would count only the
// reservations open at the row, and the old leader's later errors would be
// spent twice.
TEST_F(TakeoverTest, ErrorsOfAnAddressSinceTheLastRowAreChargedAtATakeover) {
  ClearState();
  FakeClock clock(kT0);
  const CallKey key{Upstream::kEsi, "/universe/types/{id}/", "10.0.0.1"};
  UpstreamErrorLimit errors(100, seconds(60));
  bool failing = false;
  auto call = [&](TimePoint now) {
    return Answer{errors.Call(now, failing),
                  HeaderList{{"X-Ratelimit-Group", "g"}, {"X-Ratelimit-Limit", "100000/1m"}}};
  };
  FlakyStore old_store(store_.get());
  auto old_leader = std::make_unique<Throttler>(&clock, Options());
  auto old_persister = std::make_unique<StatePersister>(old_leader.get(), &old_store);
  ASSERT_TRUE(old_persister->Load().ok());
  Driver old_agent(old_leader.get(), key, call, &clock, /*max_per_step=*/4);
  for (int i = 0; i < 200; ++i) {  // 4 s of answers that succeed, a row every 500 ms
    old_agent.Step();
    clock.Advance(kStep);
    if (i % 25 == 24) {
      ASSERT_TRUE(old_persister->Flush().ok());
    }
  }
  // From its last row on its writes fail, and every call fails upstream.
  old_store.set_mode(FlakyStore::Mode::kFailBeforeCommit);
  failing = true;
  const int64_t remain_at_row = errors.remain();
  for (int i = 0; i < 100; ++i) {
    old_agent.Step();
    clock.Advance(kStep);
    if (i % 25 == 24) {
      EXPECT_FALSE(old_persister->Flush().ok());
    }
  }
  old_persister.reset();  // killed: no final write
  old_leader.reset();
  const int64_t unsaved_errors = remain_at_row - errors.remain();

  Throttler new_leader(&clock, Options());
  StatePersister new_persister(&new_leader, store_.get());
  ASSERT_TRUE(new_persister.Load().ok());
  Driver new_agent(&new_leader, key, call, &clock, /*max_per_step=*/4);
  // Its first calls succeed (which ends its probing without an error-limit
  // header), then every call fails again.
  failing = false;
  for (int i = 0; i < 1000; ++i) {  // 20 s, within the upstream's window
    if (i == 50) failing = true;
    new_agent.Step();
    clock.Advance(kStep);
    if (i % 25 == 24) {
      ASSERT_TRUE(new_persister.Flush().ok());
    }
  }
  EXPECT_GT(unsaved_errors, 0);
  EXPECT_EQ(errors.violations(), 0) << unsaved_errors << " errors after the old leader's last row, "
                                    << new_agent.granted() << " calls by the new leader";
  EXPECT_GT(new_agent.granted(), 50);  // the new leader did call, and made errors too
  std::printf("error limit: %lld errors in no row, upstream remain %lld at the end\n",
              static_cast<long long>(unsaved_errors), static_cast<long long>(errors.remain()));
}

// A budget the old leader made after its last committed write (a new
// account here) is in no row; it granted that budget one probe. The new
// leader makes the budget anew: it must count that probe as possibly spent
// (as late as the old leader's calls can be answered), or two probes meet in
// a window that holds one.
TEST_F(TakeoverTest, ABudgetWithoutARowIsChargedTheProbeTheOldLeaderMayHaveMade) {
  ClearState();
  FakeClock clock(kT0);
  auto key = [](const std::string& account) {
    return CallKey{Upstream::kPoe, "/stash", "10.0.0.1", account};
  };
  auto answer = [](UpstreamWindow* upstream, TimePoint now) {
    const int64_t used = upstream->Call(now);
    return Answer{200, HeaderList{{"X-Rate-Limit-Policy", "p"},
                                  {"X-Rate-Limit-Rules", "Account"},
                                  {"X-Rate-Limit-Account", "1:10:60"},
                                  {"X-Rate-Limit-Account-State", absl::StrCat(used, ":10:0")}}};
  };
  UpstreamWindow account_a(1, seconds(10), 1);
  UpstreamWindow account_b(1, seconds(10), 1);
  FlakyStore old_store(store_.get());
  auto old_leader = std::make_unique<Throttler>(&clock, Options());
  auto old_persister = std::make_unique<StatePersister>(old_leader.get(), &old_store);
  ASSERT_TRUE(old_persister->Load().ok());
  // Account a teaches the policy; the row holding it commits.
  Driver old_a(
      old_leader.get(), key("account:a"), [&](TimePoint now) { return answer(&account_a, now); },
      &clock);
  old_a.Step();
  clock.Advance(kStep);
  old_a.Step();
  ASSERT_EQ(old_a.granted(), 1);
  ASSERT_TRUE(old_persister->Flush().ok());
  // Account b's first call, after that row; the next write fails, and the
  // old leader dies.
  Driver old_b(
      old_leader.get(), key("account:b"), [&](TimePoint now) { return answer(&account_b, now); },
      &clock);
  old_b.Step();
  ASSERT_EQ(old_b.granted(), 1);
  clock.Advance(kStep);
  old_store.set_mode(FlakyStore::Mode::kFailBeforeCommit);
  EXPECT_FALSE(old_persister->Flush().ok());
  old_persister.reset();
  old_leader.reset();

  Throttler new_leader(&clock, Options());
  StatePersister new_persister(&new_leader, store_.get());
  ASSERT_TRUE(new_persister.Load().ok());
  Driver new_b(
      &new_leader, key("account:b"), [&](TimePoint now) { return answer(&account_b, now); },
      &clock);
  for (int i = 0; i < 3000; ++i) {  // 60 s
    new_b.Step();
    clock.Advance(kStep);
    if (i % 25 == 24) {
      ASSERT_TRUE(new_persister.Flush().ok());
    }
  }
  EXPECT_EQ(account_b.violations(), 0);
  // It calls once the old leader's probe can no longer count.
  EXPECT_GT(new_b.granted(), 0);
}

// An unclean takeover of a busy address: two agents keep ~80 ESI calls of
// the old leader in flight, so its row's error-limit allowance is the whole
// room and the new leader's charge stops every call of the address until
// the charge's window ends (about a minute). How the charge ends early:
struct Settlement {
  // Agents that confirm 200 ms after the restore (a1 and a2 hold calls).
  std::vector<std::string> confirming;
  bool list_errors = true;  // with their lists of errors
  // The old leader's calls fail from its last committed row on.
  bool old_calls_fail_after_row = false;
  // The agents' processes (LeaseTokens' agent_instance) under the old
  // leader and when confirming; empty: not named.
  std::string old_instance;
  std::string confirming_instance;
};
struct SettlementRun {
  std::optional<Duration> resumed_after;  // restore to the first new grant
  int64_t violations = 0;
  int64_t unsaved_errors = 0;
  int64_t new_granted = 0;
  Throttler::TakeoverSettlement settlement;
  // Right after the confirmations: the errors the new leader thinks the
  // address has left, and what the upstream has.
  int64_t believed_left = 0;
  int64_t upstream_left = 0;
  // Before the confirmations: when a refused agent is told to ask again.
  Duration retry_after{};
};

int64_t ErrorsLeft(Throttler* t, const std::string& budget) {
  for (const BudgetInfo& b : t->ListBudgets()) {
    if (b.name == budget) return b.window.remaining;
  }
  ADD_FAILURE() << "no budget " << budget;
  return 0;
}

SettlementRun RunSettlement(StateStore* store, const Settlement& plan) {
  FakeClock clock(kT0);
  const CallKey key{Upstream::kEsi, "/universe/types/{id}/", "10.0.0.1"};
  UpstreamErrorLimit errors(100, seconds(60));
  bool failing = false;
  auto call = [&](TimePoint now) {
    const int status = errors.Call(now, failing);
    HeaderList h{{"X-Ratelimit-Group", "g"}, {"X-Ratelimit-Limit", "100000/1m"}};
    for (auto& header : errors.Headers(now)) h.push_back(header);
    return Answer{status, std::move(h)};
  };
  SettlementRun run;
  FlakyStore old_store(store);
  auto old_leader = std::make_unique<Throttler>(&clock, Options());
  auto old_persister = std::make_unique<StatePersister>(old_leader.get(), &old_store);
  EXPECT_TRUE(old_persister->Load().ok());
  Driver a1(old_leader.get(), key, call, &clock, /*max_per_step=*/40, "a1", plan.old_instance);
  Driver a2(old_leader.get(), key, call, &clock, /*max_per_step=*/40, "a2", plan.old_instance);
  for (int i = 0; i < 200; ++i) {  // 4 s, a row every 500 ms
    a1.Step();
    a2.Step();
    clock.Advance(kStep);
    if (i % 25 == 24) {
      EXPECT_TRUE(old_persister->Flush().ok());
    }
  }
  const int64_t remain_at_row = errors.remain();
  old_store.set_mode(FlakyStore::Mode::kFailBeforeCommit);
  failing = plan.old_calls_fail_after_row;
  for (int i = 0; i < 20; ++i) {  // 400 ms more, in no row
    a1.Step();
    a2.Step();
    clock.Advance(kStep);
  }
  old_persister.reset();  // killed: no final write; its unreported calls are lost
  old_leader.reset();
  run.unsaved_errors = remain_at_row - errors.remain();

  Throttler new_leader(&clock, Options());
  StatePersister new_persister(&new_leader, store);
  EXPECT_TRUE(new_persister.Load().ok());
  const TimePoint restored = clock.Now();
  Driver n1(&new_leader, key, call, &clock, /*max_per_step=*/40, "a1");
  Driver n2(&new_leader, key, call, &clock, /*max_per_step=*/40, "a2");
  // Calls succeed for a while once they resume, then every call fails: the
  // new leader must stop before the upstream's count runs out.
  failing = false;
  std::optional<int> fail_from;
  for (int i = 0; i < 3500; ++i) {  // 70 s
    if (i == 5) {
      absl::StatusOr<LeaseGrant> g = new_leader.LeaseTokens("a3", key, 8);
      EXPECT_TRUE(g.ok());
      if (g.ok() && g->granted == 0) run.retry_after = g->retry_at - clock.Now();
    }
    if (i == 10) {
      for (const std::string& agent : plan.confirming) {
        const Driver& old_agent = agent == "a1" ? a1 : a2;
        Throttler::SettledReport report =
            old_agent.Settled(new_leader.incarnation(), plan.list_errors);
        report.instance = plan.confirming_instance;
        new_leader.ConfirmSettled(agent, report);
      }
      run.believed_left = ErrorsLeft(&new_leader, "esi/errors/ip:10.0.0.1");
      run.upstream_left = errors.remain();
    }
    n1.Step();
    n2.Step();
    if (!run.resumed_after && n1.granted() + n2.granted() > 0) {
      run.resumed_after = clock.Now() - restored;
      fail_from = i + 50;
    }
    if (fail_from && i == *fail_from) failing = true;
    clock.Advance(kStep);
    if (i % 25 == 24) {
      EXPECT_TRUE(new_persister.Flush().ok());
    }
  }
  run.violations = errors.violations();
  run.new_granted = n1.granted() + n2.granted();
  run.settlement = new_leader.takeover_settlement();
  return run;
}

void PrintRun(const char* name, const SettlementRun& run) {
  std::printf(
      "%s: resumed after %s, %lld errors in no row, %lld new grants, %lld violations\n", name,
      run.resumed_after
          ? absl::StrCat(std::chrono::duration<double>(*run.resumed_after).count(), " s").c_str()
          : "never (70 s)",
      static_cast<long long>(run.unsaved_errors), static_cast<long long>(run.new_granted),
      static_cast<long long>(run.violations));
}

TEST_F(TakeoverTest, EveryHolderListingItsErrorsEndsTheErrorLimitChargeAtOnce) {
  ClearState();
  SettlementRun run = RunSettlement(store_.get(), Settlement{{"a1", "a2"}});
  PrintRun("both list", run);
  ASSERT_TRUE(run.resumed_after.has_value());
  // The confirmations come 200 ms after the restore; the agents are named
  // in the new leader's first row within a write interval.
  EXPECT_LT(*run.resumed_after, seconds(2));
  EXPECT_EQ(run.settlement.replaced, 1);
  EXPECT_LE(run.believed_left, run.upstream_left);
  EXPECT_EQ(run.violations, 0);
}

TEST_F(TakeoverTest, ErrorsTheHoldersListReplaceTheChargeAndAreCounted) {
  ClearState();
  SettlementRun run = RunSettlement(store_.get(), Settlement{{"a1", "a2"}, true, true});
  PrintRun("both list, old calls failed", run);
  EXPECT_GT(run.unsaved_errors, 0);
  ASSERT_TRUE(run.resumed_after.has_value());
  EXPECT_LT(*run.resumed_after, seconds(2));
  EXPECT_EQ(run.settlement.replaced, 1);
  // The listed errors count: never more left than the upstream has, and the
  // new leader's failing calls stop in time.
  EXPECT_LE(run.believed_left, run.upstream_left);
  EXPECT_LT(run.believed_left, 100 - run.unsaved_errors);
  EXPECT_EQ(run.violations, 0);
}

TEST_F(TakeoverTest, AProcessListingEveryErrorOfItsLifeEndsTheChargeAtOnce) {
  ClearState();
  Settlement plan{{"a1", "a2"}, true, true};
  plan.old_instance = plan.confirming_instance = "p1";
  SettlementRun run = RunSettlement(store_.get(), plan);
  PrintRun("both processes list their lives", run);
  ASSERT_TRUE(run.resumed_after.has_value());
  EXPECT_LT(*run.resumed_after, seconds(2));
  EXPECT_EQ(run.settlement.replaced, 1);
  EXPECT_LE(run.believed_left, run.upstream_left);
  EXPECT_EQ(run.violations, 0);
}

TEST_F(TakeoverTest, ARestartedAgentDoesNotSpeakForThePreviousProcess) {
  ClearState();
  Settlement plan{{"a1", "a2"}, true, true};
  plan.old_instance = "p1";
  plan.confirming_instance = "p2";  // the agents restarted since
  SettlementRun run = RunSettlement(store_.get(), plan);
  PrintRun("restarted agents confirm", run);
  EXPECT_TRUE(run.settlement.pending);
  EXPECT_TRUE(!run.resumed_after || *run.resumed_after > seconds(30));
  EXPECT_EQ(run.violations, 0);
}

TEST_F(TakeoverTest, WithOneHolderSilentTheErrorLimitChargeStands) {
  ClearState();
  SettlementRun silent = RunSettlement(store_.get(), Settlement{{"a1"}});
  PrintRun("a2 silent", silent);
  // While the holders may still confirm, a refusal says "ask again soon",
  // not when the charge would end by itself (a minute away).
  EXPECT_GT(silent.retry_after, Duration::zero());
  EXPECT_LE(silent.retry_after, seconds(1));
  EXPECT_TRUE(silent.settlement.pending);
  EXPECT_EQ(silent.settlement.waiting, std::vector<std::string>{"agent:a2"});
  // The charge ends with the window its latest answer falls in.
  EXPECT_TRUE(!silent.resumed_after || *silent.resumed_after > seconds(30));
  EXPECT_EQ(silent.violations, 0);
}

TEST_F(TakeoverTest, AConfirmationFromAnAgentNotInTheRowChangesNothing) {
  ClearState();
  SettlementRun run = RunSettlement(store_.get(), Settlement{{"a1", "a3"}});
  PrintRun("a1 and a3 (not named)", run);
  EXPECT_TRUE(run.settlement.pending);
  EXPECT_TRUE(!run.resumed_after || *run.resumed_after > seconds(30));
  EXPECT_EQ(run.violations, 0);
}

TEST_F(TakeoverTest, ConfirmationsWithoutListsCountTheChargeAsAnsweredThen) {
  ClearState();
  SettlementRun unlisted = RunSettlement(store_.get(), Settlement{{"a1", "a2"}, false, true});
  PrintRun("both confirm, no lists, old calls failed", unlisted);
  EXPECT_EQ(unlisted.settlement.answered, 1);
  EXPECT_EQ(unlisted.settlement.replaced, 0);
  EXPECT_EQ(unlisted.violations, 0);
}

}  // namespace
}  // namespace sluice::throttle
