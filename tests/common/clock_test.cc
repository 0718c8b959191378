// Conversions between unix seconds and TimePoint (common/clock.h): exact
// within the range a TimePoint holds, saturating outside it.
#include "common/clock.h"

#include <gtest/gtest.h>

#include <limits>

namespace sluice {
namespace {

TEST(ClockTest, UnixSecondsRoundTripWithinTheRange) {
  for (double s : {0.0, 1.5, 1764990000.25, -86400.0, 4102444800.0}) {
    EXPECT_DOUBLE_EQ(ToUnixSeconds(FromUnixSeconds(s)), s) << s;
  }
}

TEST(ClockTest, SecondsPastWhatATimePointHoldsSaturate) {
  // 3.6e10 s is 3.6e19 ns, past int64: once undefined behaviour (fuzz_caller).
  EXPECT_EQ(FromUnixSeconds(35930400000.0), TimePoint::max());
  EXPECT_EQ(FromUnixSeconds(kMaxUnixSeconds), TimePoint::max());
  EXPECT_EQ(FromUnixSeconds(std::numeric_limits<double>::infinity()), TimePoint::max());
  EXPECT_EQ(FromUnixSeconds(-1e300), TimePoint::min());
  EXPECT_EQ(FromUnixSeconds(std::numeric_limits<double>::quiet_NaN()), TimePoint());
  EXPECT_LT(FromUnixSeconds(kMaxUnixSeconds - 1), TimePoint::max());
}

}  // namespace
}  // namespace sluice
