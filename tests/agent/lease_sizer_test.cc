// LeaseSizer: a fixed size stays fixed; otherwise the lease covers the
// horizon's worth of work at the measured pace, within floor and ceiling.
#include "agent/core/lease_sizer.h"

#include <gtest/gtest.h>

namespace sluice::agent {
namespace {

using std::chrono::milliseconds;
using Clock = LeaseSizer::Clock;

TEST(LeaseSizerTest, AFixedSizeIsAlwaysAskedFor) {
  LeaseSizer sizer(/*fixed=*/300, /*floor=*/8, /*ceiling=*/1000, milliseconds(250));
  const Clock::time_point t0{};
  EXPECT_EQ(sizer.Next(0, t0), 300);
  EXPECT_EQ(sizer.Next(100000, t0 + milliseconds(1000)), 300);
  EXPECT_EQ(LeaseSizer(5000, 8, 1000, milliseconds(250)).Next(0, t0), 1000);
}

TEST(LeaseSizerTest, FastWorkLeasesTheHorizonsWorthUpToTheCeiling) {
  LeaseSizer sizer(0, /*floor=*/200, /*ceiling=*/1000, milliseconds(250));
  const Clock::time_point t0{};
  EXPECT_EQ(sizer.Next(0, t0), 200) << "no pace known yet: the floor";
  // 2,400 tasks/s: 600 tasks cover 250 ms.
  EXPECT_EQ(sizer.Next(480, t0 + milliseconds(200)), 600);
  EXPECT_DOUBLE_EQ(sizer.rate(), 2400);
  // 20,000 tasks/s (averaged with the last: 11,200/s): the ceiling.
  EXPECT_EQ(sizer.Next(480 + 4000, t0 + milliseconds(400)), 1000);
}

TEST(LeaseSizerTest, WorkPacedByTheUpstreamKeepsTheFloorAndShortIntervalsAreNotSamples) {
  LeaseSizer sizer(0, /*floor=*/8, /*ceiling=*/1000, milliseconds(250));
  const Clock::time_point t0{};
  EXPECT_EQ(sizer.Next(0, t0), 8);
  // A batch answered within a millisecond: not a measure of the pace.
  EXPECT_EQ(sizer.Next(8, t0 + milliseconds(1)), 8);
  EXPECT_DOUBLE_EQ(sizer.rate(), 0);
  // 20 tasks/s (four workers on a slow upstream): 5 per 250 ms, under the floor.
  EXPECT_EQ(sizer.Next(20, t0 + milliseconds(1000)), 8);
  EXPECT_DOUBLE_EQ(sizer.rate(), 20);
}

}  // namespace
}  // namespace sluice::agent
