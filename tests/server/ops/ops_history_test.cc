// The dashboard's ring of samples: rates from counter differences, a fixed
// number of points and of series whatever the snapshots hold, and only the
// points a page lacks.
#include "server/ops/ops_history.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace sluice {
namespace {

constexpr double kT0 = 1.8e9;  // unix seconds

OpsSnapshot Snapshot(double at, int64_t stash_rows, int64_t granted, int64_t remaining = 50) {
  OpsSnapshot s;
  s.taken_at = FromUnixSeconds(at);
  s.checkpoints.push_back({"poe_stash:pc", "1-2-3", 0, 1, stash_rows});
  s.checkpoints.push_back({"poe_exchange:pc", "1700000000", 0, 1, 7});
  // Transformed raw rows are not ingested rows.
  s.checkpoints.push_back({"etl:stash", "99", 0, 1, 1000000 + stash_rows * 3});
  throttle::FamilyInfo f;
  f.name = "esi/character";
  f.counters.granted = granted;
  throttle::BudgetInfo worst;
  worst.window.limit = 200;
  worst.window.remaining = remaining;
  f.most_constrained.push_back(worst);
  s.budget_families.push_back(f);
  KindStats k;
  k.kind = "character";
  k.ready = 4;
  k.leased = 2;
  k.retrying = 1;
  k.dead = 9;  // dead tasks are not queue depth
  s.queue.push_back(k);
  return s;
}

std::vector<double> Values(const nlohmann::json& h, const std::string& series) {
  std::vector<double> out;
  for (const auto& v : h["values"][series]) out.push_back(v.is_null() ? -1 : v.get<double>());
  return out;
}

TEST(OpsHistoryTest, RatesComeFromTheDifferenceOfTwoSnapshots) {
  OpsHistory history;
  history.Record(Snapshot(kT0, 100, 10));
  history.Record(Snapshot(kT0 + 10, 600, 30, 20));
  const nlohmann::json h = history.Since(0);
  ASSERT_EQ(h["t"].size(), 2u);
  // The first point has nothing to differ from: no rate, not a zero.
  EXPECT_THAT(Values(h, "ingest.rows_per_s|poe_stash:pc"), ::testing::ElementsAre(-1, 50));
  EXPECT_THAT(Values(h, "ingest.rows_per_s|poe_exchange:pc"), ::testing::ElementsAre(-1, 0));
  EXPECT_THAT(Values(h, "ingest.rows_per_s"), ::testing::ElementsAre(-1, 50));
  EXPECT_FALSE(h["values"].contains("ingest.rows_per_s|etl:stash"));
  EXPECT_THAT(Values(h, "calls.per_s|esi/character"), ::testing::ElementsAre(-1, 2));
  EXPECT_THAT(Values(h, "budget.headroom|esi/character"), ::testing::ElementsAre(0.25, 0.1));
  EXPECT_THAT(Values(h, "queue.depth|character"), ::testing::ElementsAre(7, 7));
  EXPECT_DOUBLE_EQ(h["interval_hint_s"].get<double>(), 10);
}

TEST(OpsHistoryTest, ACounterThatWentBackGivesNoRate) {
  OpsHistory history;
  history.Record(Snapshot(kT0, 500, 10));
  history.Record(Snapshot(kT0 + 10, 100, 20));  // as after the stream was reset
  history.Record(Snapshot(kT0 + 20, 300, 30));
  EXPECT_THAT(Values(history.Since(0), "ingest.rows_per_s|poe_stash:pc"),
              ::testing::ElementsAre(-1, -1, 20));
}

TEST(OpsHistoryTest, TheRingKeepsItsCapacityOfTheNewestPoints) {
  OpsHistory history({/*capacity=*/3, /*max_series=*/32});
  for (int i = 0; i < 5; ++i) history.Record(Snapshot(kT0 + 10 * i, 100 * i, i));
  const nlohmann::json h = history.Since(0);
  EXPECT_THAT(h["t"].get<std::vector<double>>(),
              ::testing::ElementsAre(kT0 + 20, kT0 + 30, kT0 + 40));
  EXPECT_EQ(history.size(), 3u);
  EXPECT_EQ(h["capacity"].get<size_t>(), 3u);
}

TEST(OpsHistoryTest, SinceAnswersOnlyThePointsAfterIt) {
  OpsHistory history;
  for (int i = 0; i < 4; ++i) history.Record(Snapshot(kT0 + 10 * i, 100 * i, i));
  EXPECT_THAT(history.Since(kT0 + 10)["t"].get<std::vector<double>>(),
              ::testing::ElementsAre(kT0 + 20, kT0 + 30));
  const nlohmann::json none = history.Since(kT0 + 30);
  EXPECT_TRUE(none["t"].empty());
  EXPECT_TRUE(none["series"].empty()) << "series with no value in the range are left out";
}

TEST(OpsHistoryTest, LatencyQuantilesComeFromTheIntervalsObservations) {
  OpsHistory history;
  OpsSnapshot before = Snapshot(kT0, 0, 0);
  // 500 claims before the interval, all under 1 ms: not part of it.
  before.claim_latency = {500, 0.2, {{0.001, 500}, {0.01, 500}, {0.1, 500}, {INFINITY, 500}}};
  OpsSnapshot after = Snapshot(kT0 + 10, 0, 0);
  // Then 100 more: 10 under 1 ms, 80 under 10 ms, 10 under 100 ms.
  after.claim_latency = {600, 1.0, {{0.001, 510}, {0.01, 590}, {0.1, 600}, {INFINITY, 600}}};
  history.Record(before);
  history.Record(after);
  const nlohmann::json h = history.Since(0);
  // Interpolated within the bucket holding the rank, as histogram_quantile does.
  EXPECT_THAT(Values(h, "latency.claim_p50_s"), ::testing::ElementsAre(-1, 0.0055));
  EXPECT_THAT(Values(h, "latency.claim_p95_s"), ::testing::ElementsAre(-1, 0.055));
  EXPECT_FALSE(h["values"].contains("latency.commit_p50_s")) << "no commit in the interval";
}

TEST(OpsHistoryTest, SeriesBeyondTheBoundAreDroppedAndCounted) {
  OpsHistory history({/*capacity=*/10, /*max_series=*/4});
  OpsSnapshot s;
  s.taken_at = FromUnixSeconds(kT0);
  for (int i = 0; i < 10; ++i) {
    KindStats k;
    k.kind = "kind" + std::to_string(i);
    k.ready = i;
    s.queue.push_back(k);
  }
  history.Record(s);
  s.taken_at += std::chrono::seconds(10);
  history.Record(s);
  const nlohmann::json h = history.Since(0);
  EXPECT_EQ(history.series_count(), 4u);
  EXPECT_EQ(h["series"].size(), 4u);
  // Ten kinds and the alert count, less the four kept; each name counted once.
  EXPECT_EQ(h["dropped_series"].get<int>(), 7);
}

}  // namespace
}  // namespace sluice
