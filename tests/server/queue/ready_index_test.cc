#include "server/queue/ready_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <thread>

#include "server/queue/urgency.h"

namespace sluice {
namespace {

const TimePoint kNow = FromUnixSeconds(1'800'000'000);

ReadyTask Task(int64_t id, int64_t weight, double age_s, const std::string& kind = "character",
               int priority = 3) {
  return ReadyTask{id, kind, priority, weight,
                   kNow - std::chrono::microseconds(static_cast<int64_t>(age_s * 1e6))};
}

// The queue's order, by ranking every row: most urgent first, then the
// older row, then the lower id.
void SortByUrgency(std::vector<ReadyTask>& tasks) {
  std::sort(tasks.begin(), tasks.end(), [](const ReadyTask& a, const ReadyTask& b) {
    const double ua = Urgency(kNow, a.last_modified, a.weight - 1);
    const double ub = Urgency(kNow, b.last_modified, b.weight - 1);
    if (ua != ub) return ua > ub;
    if (a.last_modified != b.last_modified) return a.last_modified < b.last_modified;
    return a.task_id < b.task_id;
  });
}

std::vector<int64_t> Ids(const std::vector<ReadyTask>& tasks) {
  std::vector<int64_t> ids;
  for (const ReadyTask& t : tasks) ids.push_back(t.task_id);
  return ids;
}

TEST(ReadyIndexTest, TakesTheMostUrgentAcrossWeightsMostUrgentFirst) {
  ReadyIndex index;
  index.Upsert(Task(1, 1, 100));  // urgency 100
  index.Upsert(Task(2, 5, 30));   // 150
  index.Upsert(Task(3, 1, 200));  // 200
  index.Upsert(Task(4, 5, 10));   // 50
  index.Upsert(Task(5, 2, 60));   // 120
  EXPECT_EQ(Ids(index.Take({"character"}, 3, kNow)), (std::vector<int64_t>{3, 2, 5}));
  EXPECT_EQ(Ids(index.Take({"character"}, 10, kNow)), (std::vector<int64_t>{1, 4}));
  EXPECT_TRUE(index.Take({"character"}, 10, kNow).empty());
  EXPECT_EQ(index.Size("character"), 0);
}

class ReadyIndexRandomTest : public ::testing::TestWithParam<std::pair<int, int>> {};

TEST_P(ReadyIndexRandomTest, MatchesAFullSortOfARandomQueue) {
  // The merge of per-weight heads must equal ranking every row by urgency,
  // with fewer weights than a claim takes and with far more (the heads that
  // cannot make the top are left out of the merge).
  const auto [weights, per_take] = GetParam();
  std::mt19937_64 rng(7);
  ReadyIndex index;
  std::vector<ReadyTask> all;
  for (int64_t id = 1; id <= 5000; ++id) {
    ReadyTask t = Task(id, 1 + static_cast<int64_t>(rng() % weights),
                       static_cast<double>(rng() % 100000) / 10.0);
    all.push_back(t);
    index.Upsert(t);
  }
  SortByUrgency(all);
  std::vector<int64_t> got;
  while (true) {
    auto part = index.Take({"character"}, per_take, kNow);
    if (part.empty()) break;
    for (const ReadyTask& t : part) got.push_back(t.task_id);
  }
  EXPECT_EQ(got, Ids(all));
}

INSTANTIATE_TEST_SUITE_P(WeightsAndClaimSizes, ReadyIndexRandomTest,
                         ::testing::Values(std::make_pair(40, 137), std::make_pair(3000, 7),
                                           std::make_pair(3000, 100), std::make_pair(1, 50)));

TEST(ReadyIndexTest, ManyWeightsInSeveralKindsComeOutExactAndUnderTheirOwnKind) {
  // Thousands of lists across two kinds at the top priority (the sampled
  // floor path), and a third kind requested with rows only at a lower one.
  std::mt19937_64 rng(11);
  ReadyIndex index;
  std::vector<ReadyTask> top;
  int64_t id = 1;
  for (const std::string kind : {"character", "corporation"}) {
    for (int i = 0; i < 3000; ++i, ++id) {
      ReadyTask t = Task(id, 1 + static_cast<int64_t>(rng() % 2500),
                         static_cast<double>(rng() % 100000) / 10.0, kind);
      top.push_back(t);
      index.Upsert(t);
    }
  }
  index.Upsert(Task(id, 1, 1e6, "alliance", 1));
  SortByUrgency(top);
  const std::vector<ReadyTask> got =
      index.Take({"alliance", "character", "corporation"}, 100, kNow);
  ASSERT_EQ(got.size(), 100u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].task_id, top[i].task_id) << "rank " << i;
    EXPECT_EQ(got[i].kind, top[i].kind) << "rank " << i;
  }
}

TEST(ReadyIndexTest, RowsFromTheFutureComeLastAndStillInOrder) {
  // An upstream clock ahead of ours: negative ages, heavier weights worse.
  ReadyIndex index;
  index.Upsert(Task(1, 1, -10));  // -10
  index.Upsert(Task(2, 3, -10));  // -30
  index.Upsert(Task(3, 3, 1));    // 3
  EXPECT_EQ(Ids(index.Take({"character"}, 3, kNow)), (std::vector<int64_t>{3, 1, 2}));
}

TEST(ReadyIndexTest, EqualUrgencyGoesToTheOlderRowThenTheLowerId) {
  ReadyIndex index;
  index.Upsert(Task(9, 2, 50));   // 100, younger
  index.Upsert(Task(4, 1, 100));  // 100, older
  index.Upsert(Task(3, 1, 100));  // 100, older, lower id
  EXPECT_EQ(Ids(index.Take({"character"}, 3, kNow)), (std::vector<int64_t>{3, 4, 9}));
}

TEST(ReadyIndexTest, OnlyTheHighestPriorityWithReadyRowsAmongTheKindsIsTaken) {
  ReadyIndex index;
  index.Upsert(Task(1, 1, 1000, "character", 1));
  index.Upsert(Task(2, 1, 1, "corporation", 5));
  index.Upsert(Task(3, 1, 2, "alliance", 9));
  EXPECT_EQ(Ids(index.Take({"character", "corporation"}, 5, kNow)), (std::vector<int64_t>{2}));
  EXPECT_EQ(Ids(index.Take({"character", "corporation"}, 5, kNow)), (std::vector<int64_t>{1}));
  EXPECT_EQ(Ids(index.Take({"unknown"}, 5, kNow)), (std::vector<int64_t>{}));
  EXPECT_EQ(index.Size("alliance"), 1);
}

TEST(ReadyIndexTest, UpsertMovesARowWhoseWeightOrPriorityRose) {
  ReadyIndex index;
  index.Upsert(Task(1, 1, 100));
  index.Upsert(Task(2, 1, 90));
  index.Upsert(Task(2, 3, 90));  // accessed: 270
  EXPECT_EQ(index.Size("character"), 2);
  EXPECT_EQ(Ids(index.Take({"character"}, 1, kNow)), (std::vector<int64_t>{2}));
  index.Upsert(Task(1, 1, 100, "character", 7));
  index.Upsert(Task(5, 50, 100, "character", 3));
  EXPECT_EQ(Ids(index.Take({"character"}, 1, kNow)), (std::vector<int64_t>{1}));
}

TEST(ReadyIndexTest, RestorePutsBackOnlyWhatWasNotUpsertedMeanwhile) {
  ReadyIndex index;
  index.Upsert(Task(1, 1, 100));
  index.Upsert(Task(2, 1, 50));
  auto taken = index.Take({"character"}, 2, kNow);
  ASSERT_EQ(taken.size(), 2u);
  index.Upsert(Task(2, 1, 50, "character", 9));  // raised while the claim ran
  index.Restore(taken);
  EXPECT_EQ(index.Size("character"), 2);
  EXPECT_EQ(Ids(index.Take({"character"}, 1, kNow)), (std::vector<int64_t>{2}))
      << "the raise, not the restored copy, decides";
}

TEST(ReadyIndexTest, RemoveForgetsARow) {
  ReadyIndex index;
  index.Upsert(Task(1, 1, 100));
  index.Remove(1);
  index.Remove(42);  // unknown: nothing
  EXPECT_EQ(index.Size("character"), 0);
  EXPECT_TRUE(index.Take({"character"}, 1, kNow).empty());
}

TEST(ReadyIndexTest, AReloadKeepsTheChangesMadeWhileItRead) {
  ReadyIndex index;
  index.Upsert(Task(1, 1, 100));
  index.Upsert(Task(2, 1, 90));
  index.BeginReload();
  // While the table is read: a claim takes 1, a new row 3 arrives, 2 is
  // deleted. The snapshot read still has 1 and 2 and not 3.
  EXPECT_EQ(Ids(index.Take({"character"}, 1, kNow)), (std::vector<int64_t>{1}));
  index.Upsert(Task(3, 1, 10));
  index.Remove(2);
  index.FinishReload({Task(1, 1, 100), Task(2, 1, 90), Task(4, 1, 5)});
  EXPECT_EQ(index.Size("character"), 2);
  EXPECT_EQ(Ids(index.Take({"character"}, 5, kNow)), (std::vector<int64_t>{3, 4}));
}

TEST(ReadyIndexTest, AnAbortedReloadLeavesTheIndexAsItWas) {
  ReadyIndex index;
  index.Upsert(Task(1, 1, 100));
  index.BeginReload();
  index.Upsert(Task(2, 1, 10));
  index.AbortReload();
  EXPECT_EQ(index.Sizes(), (std::map<std::string, int64_t>{{"character", 2}}));
  EXPECT_EQ(Ids(index.Take({"character"}, 5, kNow)), (std::vector<int64_t>{1, 2}));
}

TEST(ReadyIndexTest, ConcurrentTakersNeverGetTheSameRow) {
  ReadyIndex index;
  for (int64_t id = 1; id <= 20000; ++id) index.Upsert(Task(id, 1 + id % 7, id % 1000));
  std::vector<std::vector<int64_t>> got(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      while (true) {
        auto part = index.Take({"character"}, 50, kNow);
        if (part.empty()) return;
        for (const ReadyTask& t : part) got[i].push_back(t.task_id);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<int64_t> all;
  for (const auto& g : got) all.insert(all.end(), g.begin(), g.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 20000u);
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a row taken twice";
}

TEST(ReadyIndexTest, TellsWhenTheLongestWaitingReadyRowWasQueued) {
  ReadyIndex index;
  auto queued = [](int64_t id, double age_s, double queued_s_ago) {
    ReadyTask t = Task(id, 1, age_s);
    t.enqueued_at = kNow - std::chrono::seconds(static_cast<int64_t>(queued_s_ago));
    return t;
  };
  EXPECT_FALSE(index.OldestEnqueued("character"));
  index.Upsert(queued(1, 100, 50));
  index.Upsert(queued(2, 10, 80));
  index.Upsert(queued(3, 5, 80));
  EXPECT_EQ(index.OldestEnqueued("character"), kNow - std::chrono::seconds(80));
  // Taking row 1 (the most urgent) leaves the age; taking 2 and 3 moves it.
  const std::vector<ReadyTask> taken = index.Take({"character"}, 1, kNow);
  EXPECT_EQ(index.OldestEnqueued("character"), kNow - std::chrono::seconds(80));
  index.Take({"character"}, 2, kNow);
  EXPECT_FALSE(index.OldestEnqueued("character"));
  index.Restore(taken);  // put back whole, with when it was queued
  EXPECT_EQ(index.OldestEnqueued("character"), kNow - std::chrono::seconds(50));
}

}  // namespace
}  // namespace sluice
