#include "server/queue/due_schedule.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using std::chrono::seconds;
const TimePoint kNow = FromUnixSeconds(1'800'000'000);

TEST(DueScheduleTest, AKindItKnowsNothingOfIsDueNow) {
  DueSchedule due;
  EXPECT_TRUE(due.MayBeDue({"character"}, kNow));
  due.Lower("character", kNow + seconds(60));  // still unknown: nothing was read
  EXPECT_TRUE(due.MayBeDue({"character"}, kNow));
}

TEST(DueScheduleTest, ACheckTellsWhenTheNextRowBecomesDue) {
  DueSchedule due;
  due.BeginCheck({"character", "corporation"});
  due.FinishCheck({{"character", kNow + seconds(30)}, {"corporation", std::nullopt}});
  EXPECT_FALSE(due.MayBeDue({"character", "corporation"}, kNow));
  EXPECT_FALSE(due.MayBeDue({"corporation"}, kNow + seconds(86400)));
  EXPECT_TRUE(due.MayBeDue({"character"}, kNow + seconds(30)));
  EXPECT_TRUE(due.MayBeDue({"character", "alliance"}, kNow)) << "alliance is unknown";
}

TEST(DueScheduleTest, AWriteGivingAnEarlierTimeLowersIt) {
  DueSchedule due;
  due.BeginCheck({"character"});
  due.FinishCheck({{"character", std::nullopt}});
  due.Lower("character", kNow + seconds(5));
  EXPECT_FALSE(due.MayBeDue({"character"}, kNow + seconds(4)));
  EXPECT_TRUE(due.MayBeDue({"character"}, kNow + seconds(5)));
  due.Lower("character", kNow + seconds(60));  // later: no change
  EXPECT_TRUE(due.MayBeDue({"character"}, kNow + seconds(5)));
}

TEST(DueScheduleTest, AWriteCommittedWhileACheckRunsIsNotLostToItsAnswer) {
  // The check may have read the table before the write committed.
  DueSchedule due;
  due.BeginCheck({"character"});
  due.Lower("character", kNow + seconds(1));
  due.FinishCheck({{"character", kNow + seconds(100)}});
  EXPECT_TRUE(due.MayBeDue({"character"}, kNow + seconds(1)));
}

TEST(DueScheduleTest, AFailedCheckAndForgetMakeKindsDueAgain) {
  DueSchedule due;
  due.BeginCheck({"character"});
  due.FinishCheck({{"character", std::nullopt}});
  due.BeginCheck({"character"});
  due.FailCheck({"character"});
  EXPECT_TRUE(due.MayBeDue({"character"}, kNow));

  due.BeginCheck({"character"});
  due.FinishCheck({{"character", std::nullopt}});
  due.Forget();
  EXPECT_TRUE(due.MayBeDue({"character"}, kNow));

  due.BeginCheck({"character"});
  due.Forget();  // while a check runs: its answer may predate the writes
  due.FinishCheck({{"character", std::nullopt}});
  EXPECT_TRUE(due.MayBeDue({"character"}, kNow));
}

}  // namespace
}  // namespace sluice
