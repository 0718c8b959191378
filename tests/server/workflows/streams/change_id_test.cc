// Change-id ordering: the guard that keeps a stash stream's cursor from
// moving backwards.
#include "server/workflows/streams/change_id.h"

#include <gtest/gtest.h>

namespace sluice::streams {
namespace {

ChangeIdOrder Order(const std::string& from, const std::string& to) {
  auto order = CompareChangeIds(from, to);
  EXPECT_TRUE(order.ok()) << order.status();
  return order.value_or(ChangeIdOrder::kSame);
}

TEST(ChangeIdTest, ParsesShardCounters) {
  auto parsed = ParseChangeId("2949-5051-4630-5422-1846");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, (std::vector<int64_t>{2949, 5051, 4630, 5422, 1846}));
  EXPECT_TRUE(ParseChangeId("")->empty()) << "'' is the start of the stream";
}

TEST(ChangeIdTest, RejectsMalformedIds) {
  for (const char* bad :
       {"abc", "1--2", "1-2-", "-1-2", "1-2-x", "1 -2", "1234567890123456789-1"}) {
    EXPECT_EQ(ParseChangeId(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(CompareChangeIds("1-2", "1-x").ok());
}

TEST(ChangeIdTest, SameIdIsSame) {
  EXPECT_EQ(Order("2949-5051-4630", "2949-5051-4630"), ChangeIdOrder::kSame);
  EXPECT_EQ(Order("", ""), ChangeIdOrder::kSame);
}

TEST(ChangeIdTest, AnyGrowthWithoutDecreaseIsForward) {
  EXPECT_EQ(Order("2949-5051-4630", "2950-5051-4630"), ChangeIdOrder::kForward);
  EXPECT_EQ(Order("2949-5051-4630", "3000-6000-5000"), ChangeIdOrder::kForward);
  EXPECT_EQ(Order("", "1-2-3"), ChangeIdOrder::kForward) << "from the start, anything is forward";
  // Numbers, not text: "10" is after "9".
  EXPECT_EQ(Order("9-9", "10-9"), ChangeIdOrder::kForward);
}

TEST(ChangeIdTest, AnyCounterDecreasingIsARewind) {
  EXPECT_EQ(Order("2949-5051-4630", "2948-5051-4630"), ChangeIdOrder::kRewind);
  // One shard went back even though the others moved on.
  EXPECT_EQ(Order("2949-5051-4630", "3000-5050-9999"), ChangeIdOrder::kRewind);
  EXPECT_EQ(Order("1-2-3", ""), ChangeIdOrder::kRewind) << "back to the start";
}

TEST(ChangeIdTest, ShardCountChangeIsARewind) {
  EXPECT_EQ(Order("1-2-3", "1-2-3-4"), ChangeIdOrder::kRewind);
  EXPECT_EQ(Order("1-2-3-4", "5-6-7"), ChangeIdOrder::kRewind);
}

}  // namespace
}  // namespace sluice::streams
