#include "server/queue/due_index.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

const TimePoint kNow = FromUnixSeconds(1'800'000'000);

DueTask Leased(int64_t id, double due_in_s, const std::string& agent = "a1",
               const std::string& kind = "character") {
  return DueTask{id, kind, TaskState::kLeased,
                 kNow + std::chrono::microseconds(static_cast<int64_t>(due_in_s * 1e6)), agent};
}

DueTask Waiting(int64_t id, double due_in_s, const std::string& kind = "character") {
  return DueTask{id, kind, TaskState::kWaiting,
                 kNow + std::chrono::microseconds(static_cast<int64_t>(due_in_s * 1e6)), ""};
}

std::vector<int64_t> Ids(const std::vector<DueTask>& tasks) {
  std::vector<int64_t> ids;
  for (const DueTask& t : tasks) ids.push_back(t.task_id);
  return ids;
}

TEST(DueIndexTest, TakesOnlyRowsOfTheKindsDueNowEarliestFirst) {
  DueIndex due;
  due.Upsert(Leased(1, -5));
  due.Upsert(Waiting(2, -10));
  due.Upsert(Waiting(3, 30));
  due.Upsert(Waiting(4, -20, "corporation"));
  EXPECT_TRUE(due.AnyDue({"character"}, kNow));
  EXPECT_FALSE(due.AnyDue({"alliance"}, kNow));
  const std::vector<DueTask> taken = due.TakeDue({"character"}, kNow, 100);
  EXPECT_EQ(Ids(taken), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(taken[1].agent, "a1");
  EXPECT_FALSE(due.AnyDue({"character"}, kNow));
  EXPECT_TRUE(due.AnyDue({"character"}, kNow + std::chrono::seconds(30)));
}

TEST(DueIndexTest, TakesAtMostTheLimitAndLeavesTheRestDue) {
  DueIndex due;
  for (int i = 1; i <= 5; ++i) due.Upsert(Waiting(i, -i));
  EXPECT_EQ(Ids(due.TakeDue({"character"}, kNow, 2)), (std::vector<int64_t>{5, 4}));
  EXPECT_EQ(Ids(due.TakeDue({"character"}, kNow, 10)), (std::vector<int64_t>{3, 2, 1}));
}

TEST(DueIndexTest, AMovedDueTimeReplacesTheOldOne) {
  DueIndex due;
  due.Upsert(Leased(1, -5));
  due.Upsert(Leased(1, 60));  // the lease was extended
  EXPECT_FALSE(due.AnyDue({"character"}, kNow));
  EXPECT_EQ(due.Sizes().at({"character", TaskState::kLeased}), 1);
}

TEST(DueIndexTest, RowsAPromotionCouldNotMakeReadyGoBackAsTheTableHasThem) {
  DueIndex due;
  due.Upsert(Leased(1, -5));
  due.Upsert(Leased(2, -5));
  const std::vector<DueTask> taken = due.TakeDue({"character"}, kNow, 10);
  ASSERT_EQ(taken.size(), 2u);
  // Row 1 was promoted; row 2 was held by another transaction, and the
  // table says its lease now runs until +60 s.
  due.FinishTake({1, 2}, {Leased(2, 60)});
  EXPECT_FALSE(due.AnyDue({"character"}, kNow));
  EXPECT_EQ(due.LeasedBy("a1"), (std::vector<int64_t>{2}));
  EXPECT_TRUE(due.AnyDue({"character"}, kNow + std::chrono::seconds(61)));
}

TEST(DueIndexTest, AWriteWhileAPromotionRunsIsNotUndoneByItsRestore) {
  DueIndex due;
  due.Upsert(Leased(1, -5));
  due.Upsert(Leased(2, -5));
  due.TakeDue({"character"}, kNow, 10);
  due.Remove(1);                // completed meanwhile
  due.Upsert(Waiting(2, 300));  // failed meanwhile: backs off
  due.FinishTake({1, 2}, {Leased(1, -5), Leased(2, -5)});
  EXPECT_FALSE(due.AnyDue({"character"}, kNow + std::chrono::seconds(299)));
  EXPECT_TRUE(due.LeasedBy("a1").empty());
  const auto sizes = due.Sizes();
  EXPECT_EQ(sizes.size(), 1u);
  EXPECT_EQ(sizes.at({"character", TaskState::kWaiting}), 1);
}

TEST(DueIndexTest, CountsDueRowsByStateAndLiveLeasesByAgent) {
  DueIndex due;
  due.Upsert(Leased(1, -5, "a1"));
  due.Upsert(Leased(2, 60, "a1"));
  due.Upsert(Leased(3, 60, "a2"));
  due.Upsert(Waiting(4, -1));
  due.Upsert(Waiting(5, 10));
  const auto counts = due.DueCounts(kNow);
  EXPECT_EQ(counts.at({"character", TaskState::kLeased}), 1);
  EXPECT_EQ(counts.at({"character", TaskState::kWaiting}), 1);
  const auto agents = due.LeasesByAgent(kNow);
  EXPECT_EQ(agents.at({"character", "a1"}), 1);  // task 1's lease ran out
  EXPECT_EQ(agents.at({"character", "a2"}), 1);
  EXPECT_EQ(due.LeasedBy("a1"), (std::vector<int64_t>{1, 2}));
}

TEST(DueIndexTest, AReloadKeepsTheChangesMadeWhileTheTableWasRead) {
  DueIndex due;
  due.Upsert(Leased(1, 60));
  due.BeginReload();
  due.Upsert(Waiting(7, -1));  // committed after the snapshot
  due.Remove(2);               // deleted after the snapshot
  due.FinishReload({Leased(2, 60), Waiting(3, 120)});
  const auto sizes = due.Sizes();
  EXPECT_EQ(sizes.at({"character", TaskState::kWaiting}), 2);  // 3 and 7
  EXPECT_EQ(sizes.count({"character", TaskState::kLeased}), 0u);  // 1 was not in the table
  EXPECT_EQ(Ids(due.TakeDue({"character"}, kNow, 10)), (std::vector<int64_t>{7}));
}

}  // namespace
}  // namespace sluice
