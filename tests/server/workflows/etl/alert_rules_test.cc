// Each stream alert fires when its condition has held past its threshold and
// clears when it stops, driven by a FakeClock over hand-made snapshots.
#include "server/workflows/etl/alert_rules.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iterator>
#include <set>

namespace sluice::etl {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

class AlertRulesTest : public ::testing::Test {
 protected:
  // 2027-01-15T08:00:00Z, an hour boundary.
  const TimePoint t0_ = FromUnixSeconds(1'800'000'000);
  FakeClock clock_{t0_};
  AlertRules rules_{AlertOptions{}, &clock_};

  StreamStatus Stash() {
    StreamStatus s;
    s.stream = "poe_stash:pc";
    s.kind = StreamKind::kStash;
    s.cursor = "1-2-3";
    s.created_at = t0_ - hours(1);
    s.updated_at = t0_;
    s.polled_at = t0_;
    s.head_at = t0_;
    return s;
  }
  // Caught up: the cursor is the current (unfinished) hour.
  StreamStatus Exchange() {
    StreamStatus s;
    s.stream = "poe_exchange:pc";
    s.kind = StreamKind::kExchange;
    s.cursor = std::to_string(1'800'000'000);
    s.created_at = t0_ - hours(5);
    s.updated_at = t0_ + seconds(30);
    s.polled_at = t0_ + seconds(30);
    return s;
  }

  std::vector<std::string> Rules(const std::vector<StreamStatus>& snapshot) {
    std::vector<std::string> out;
    for (const Alert& a : rules_.Evaluate(snapshot)) out.push_back(a.key());
    return out;
  }
};

// The named rules (what /metrics keeps a series for) are the rules that fire:
// a neglected stash stream and a neglected exchange stream fire every one,
// under its name, and nothing else.
TEST_F(AlertRulesTest, EveryNamedRuleFiresAndOnlyNamedRulesFire) {
  clock_.Set(t0_ + hours(3));
  StreamStatus stash = Stash();
  stash.head_at = t0_ - minutes(1);  // data was available at the last advance
  for (int i = 1; i <= 5; ++i) stash.recent_429s.push_back(clock_.Now() - seconds(i));
  StreamStatus exchange = Exchange();
  std::set<std::string> fired;
  for (const Alert& a : rules_.Evaluate({stash, exchange})) fired.insert(a.rule);
  const std::vector<std::string> names = AlertRuleNames();
  EXPECT_EQ(fired, std::set<std::string>(names.begin(), names.end()));
  EXPECT_EQ(names.size(), std::size(kAllAlertRules));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size())
      << "two rules share a name";
}

TEST_F(AlertRulesTest, HealthyStreamsFireNothing) {
  clock_.Set(t0_ + seconds(40));
  EXPECT_THAT(Rules({Stash(), Exchange()}), ::testing::IsEmpty());
}

TEST_F(AlertRulesTest, StashLagFiresAfterTenMinutesOffTheHeadAndClears) {
  StreamStatus s = Stash();
  // Ingesting pages the whole time (cursor moving, polls committed) but never
  // reaching the head.
  clock_.Set(t0_ + minutes(10));
  s.updated_at = s.polled_at.value() = clock_.Now();
  EXPECT_THAT(Rules({s}), ::testing::IsEmpty()) << "exactly 10 min is within the SLO";
  clock_.Set(t0_ + minutes(10) + seconds(1));
  s.updated_at = s.polled_at.value() = clock_.Now();
  auto alerts = rules_.Evaluate({s});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].key(), "stash_lag/poe_stash:pc");
  EXPECT_EQ(alerts[0].since, t0_ + minutes(10));
  EXPECT_THAT(alerts[0].message, ::testing::HasSubstr("not at the head"));
  // An empty page: at the head again.
  s.head_at = clock_.Now();
  EXPECT_THAT(Rules({s}), ::testing::IsEmpty());
}

TEST_F(AlertRulesTest, CurrencyLagFiresAfterSixtyFiveMinutesAndClears) {
  StreamStatus s = Exchange();
  // The hour t0..t0+1h ends at t0+1h; lag is measured from t0 (the end of the
  // last ingested hour), so the alert is due after t0+65min.
  s.polled_at = s.head_at = t0_ + minutes(64);
  clock_.Set(t0_ + minutes(65));
  EXPECT_THAT(Rules({s}), ::testing::Not(::testing::Contains("currency_lag/poe_exchange:pc")));
  clock_.Set(t0_ + minutes(66));
  s.polled_at = s.head_at = clock_.Now();
  EXPECT_THAT(Rules({s}), ::testing::Contains("currency_lag/poe_exchange:pc"));
  // The hour is ingested: the cursor moves to the next one.
  s.cursor = std::to_string(1'800'000'000 + 3600);
  s.updated_at = clock_.Now();
  EXPECT_THAT(Rules({s}), ::testing::IsEmpty());
}

TEST_F(AlertRulesTest, CheckpointDriftFiresWhenDataIsAvailableAndCursorStill) {
  StreamStatus s = Stash();
  // The last poll returned data (cursor moved at t0, no empty page since).
  s.head_at = t0_ - minutes(1);
  clock_.Set(t0_ + minutes(2));
  EXPECT_THAT(Rules({s}), ::testing::IsEmpty());
  clock_.Set(t0_ + minutes(2) + seconds(1));
  auto alerts = rules_.Evaluate({s});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].key(), "checkpoint_drift/poe_stash:pc");
  EXPECT_EQ(alerts[0].since, t0_ + minutes(2));
  // Cursor moves: cleared.
  s.updated_at = clock_.Now();
  EXPECT_THAT(Rules({s}), ::testing::IsEmpty());
  // At the head (an empty page after the last advance): no data to drift on.
  clock_.Advance(minutes(5));
  s.head_at = clock_.Now();
  s.polled_at = clock_.Now();
  EXPECT_THAT(Rules({s}), ::testing::IsEmpty());
}

TEST_F(AlertRulesTest, ExchangeDriftCountsFromWhenTheNextHourIsPublished) {
  StreamStatus s = Exchange();
  // Next hour t0..t0+1h is due at t0+1h+5min publication delay.
  // (currency_lag fires from t0+65min as well; drift is the question here.)
  const std::string drift = "checkpoint_drift/poe_exchange:pc";
  clock_.Set(t0_ + hours(1) + minutes(7));
  s.polled_at = clock_.Now();
  EXPECT_THAT(Rules({s}), ::testing::Not(::testing::Contains(drift)));
  clock_.Set(t0_ + hours(1) + minutes(7) + seconds(1));
  s.polled_at = clock_.Now();
  EXPECT_THAT(Rules({s}), ::testing::Contains(drift));
  // The upstream says "not yet" (empty answer): not our drift.
  s.head_at = clock_.Now();
  EXPECT_THAT(Rules({s}), ::testing::Not(::testing::Contains(drift)));
}

TEST_F(AlertRulesTest, EtlDriftFiresOnlyWithPendingRows) {
  StreamStatus s;
  s.stream = "etl:poe_stashes";
  s.kind = StreamKind::kEtl;
  s.cursor = "42";
  s.created_at = s.updated_at = t0_;
  s.polled_at = t0_ + minutes(3);
  clock_.Set(t0_ + minutes(3));
  EXPECT_THAT(Rules({s}), ::testing::IsEmpty());
  s.pending_rows = 10;
  EXPECT_THAT(Rules({s}), ::testing::ElementsAre("checkpoint_drift/etl:poe_stashes"));
  s.pending_rows = 0;
  EXPECT_THAT(Rules({s}), ::testing::IsEmpty());
}

TEST_F(AlertRulesTest, StalledStreamFiresAfterTenMinutesWithoutAPoll) {
  StreamStatus s = Stash();
  clock_.Set(t0_ + minutes(9));
  s.head_at = t0_ + minutes(9);  // keep lag quiet: the question is polls
  s.polled_at = t0_;
  EXPECT_THAT(Rules({s}), ::testing::IsEmpty());
  clock_.Set(t0_ + minutes(10) + seconds(1));
  s.head_at = clock_.Now();
  EXPECT_THAT(Rules({s}), ::testing::ElementsAre("stalled/poe_stash:pc"));
  s.polled_at = clock_.Now();
  EXPECT_THAT(Rules({s}), ::testing::IsEmpty());
}

TEST_F(AlertRulesTest, ExchangeWaitingForTheNextHourIsNotStalled) {
  StreamStatus s = Exchange();
  s.polled_at = t0_;
  s.head_at = t0_;
  // 50 min without a poll, but nothing is due before t0+1h+5min.
  clock_.Set(t0_ + minutes(50));
  EXPECT_THAT(Rules({s}), ::testing::IsEmpty());
  // Due at t0+65min: stalled 10 min after that.
  clock_.Set(t0_ + minutes(75) + seconds(1));
  EXPECT_THAT(Rules({s}), ::testing::Contains("stalled/poe_exchange:pc"));
}

TEST_F(AlertRulesTest, Http429StormFiresAtNWithinMMinutesAndClears) {
  StreamStatus s = Stash();
  clock_.Set(t0_ + minutes(1));
  s.head_at = s.polled_at = clock_.Now();
  s.updated_at = clock_.Now();
  for (int i = 0; i < 4; ++i) s.recent_429s.push_back(t0_ + seconds(10 * i));
  EXPECT_THAT(Rules({s}), ::testing::IsEmpty()) << "4 < 5";
  s.recent_429s.push_back(t0_ + seconds(50));
  auto alerts = rules_.Evaluate({s});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].key(), "http_429_storm/poe_stash:pc");
  EXPECT_EQ(alerts[0].since, t0_);
  // Five minutes after the first 429 it leaves the window: 4 remain.
  clock_.Set(t0_ + minutes(5) + seconds(1));
  s.head_at = s.polled_at = clock_.Now();
  s.updated_at = clock_.Now();
  EXPECT_THAT(Rules({s}), ::testing::IsEmpty());
}

TEST_F(AlertRulesTest, ThresholdsAreOptions) {
  AlertOptions o;
  o.storm_count = 2;
  o.storm_window = minutes(1);
  o.stall_after = minutes(1);
  AlertRules rules(o, &clock_);
  StreamStatus s = Stash();
  clock_.Set(t0_ + seconds(61));
  s.head_at = clock_.Now();
  s.recent_429s = {t0_ + seconds(30), t0_ + seconds(60)};
  std::vector<std::string> keys;
  for (const Alert& a : rules.Evaluate({s})) keys.push_back(a.key());
  EXPECT_THAT(keys, ::testing::ElementsAre("http_429_storm/poe_stash:pc", "stalled/poe_stash:pc"));
}

TEST_F(AlertRulesTest, DiffReportsFiringAndResolved) {
  Alert lag{"stash_lag", "poe_stash:pc", "m", t0_};
  Alert drift{"checkpoint_drift", "poe_stash:pc", "m", t0_};
  std::map<std::string, Alert> before = {{lag.key(), lag}};
  auto changes = DiffAlerts(before, {drift, lag});
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].firing);
  EXPECT_EQ(changes[0].alert.key(), drift.key());
  changes = DiffAlerts({{drift.key(), drift}, {lag.key(), lag}}, {});
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_FALSE(changes[0].firing);
  EXPECT_FALSE(changes[1].firing);
}

}  // namespace
}  // namespace sluice::etl
