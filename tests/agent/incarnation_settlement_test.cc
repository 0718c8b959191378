// IncarnationSettlement on its own: when an agent may say it has no call
// left of a throttler that was taken over.
#include "agent/throttle/incarnation_settlement.h"

#include <gtest/gtest.h>

namespace sluice::agent {
namespace {

using std::chrono::seconds;
const auto kStart = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);

TEST(IncarnationSettlementTest, SaysTheNewestOnceNoCallOfAnOlderOneIsOut) {
  IncarnationSettlement s(kStart);
  EXPECT_EQ(s.SettledBefore(), 0u);  // no incarnation seen
  EXPECT_FALSE(s.Seen(3));           // the first: nothing to drop
  s.Started(3);
  EXPECT_EQ(s.SettledBefore(), 3u);  // its own calls do not matter
  EXPECT_TRUE(s.Seen(4));            // a takeover: drop older leases
  EXPECT_FALSE(s.Spendable(3));
  EXPECT_TRUE(s.Spendable(4));
  s.Started(4);
  EXPECT_EQ(s.SettledBefore(), 0u);  // the call of 3 is out
  s.Finished(3);
  EXPECT_EQ(s.SettledBefore(), 4u);
  EXPECT_FALSE(s.Seen(3));  // late answers of the old one change nothing
  EXPECT_EQ(s.newest(), 4u);
}

TEST(IncarnationSettlementTest, TheErrorListCoversTheProcessesLifeOrItsHistory) {
  IncarnationSettlement s(kStart, seconds(180));
  EXPECT_EQ(s.ErrorCover(kStart + seconds(20)), seconds(20));
  EXPECT_TRUE(s.ErrorsSinceStart(kStart + seconds(20)));
  EXPECT_EQ(s.ErrorCover(kStart + seconds(500)), seconds(180));
  EXPECT_FALSE(s.ErrorsSinceStart(kStart + seconds(500)));
}

}  // namespace
}  // namespace sluice::agent
