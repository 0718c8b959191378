#include "agent/http/http_date.h"

#include <gtest/gtest.h>

#include "agent/http/header_map.h"

namespace sluice::agent {
namespace {

TEST(HttpDateTest, ParsesImfFixdate) {
  auto t = ParseHttpDate("Fri, 15 Jan 2027 08:00:00 GMT");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(ToUnixSeconds(*t), 1800000000);
}

TEST(HttpDateTest, ParsesObsoleteForms) {
  EXPECT_EQ(ToUnixSeconds(*ParseHttpDate("Friday, 15-Jan-27 08:00:00 GMT")), 1800000000);
  EXPECT_EQ(ToUnixSeconds(*ParseHttpDate("Fri Jan 15 08:00:00 2027")), 1800000000);
}

TEST(HttpDateTest, RejectsGarbage) {
  EXPECT_FALSE(ParseHttpDate("").has_value());
  EXPECT_FALSE(ParseHttpDate("tomorrow").has_value());
  EXPECT_FALSE(ParseHttpDate("Fri, 15 Jan 2027 08:00:00 GMT trailing").has_value());
}

TEST(Iso8601Test, ParsesEsiDates) {
  EXPECT_EQ(ToUnixSeconds(*ParseIso8601("2027-01-15T08:00:00Z")), 1800000000);
  EXPECT_EQ(ToUnixSeconds(*ParseIso8601("2027-01-15T09:00:00+01:00")), 1800000000);
  EXPECT_DOUBLE_EQ(ToUnixSeconds(*ParseIso8601("2027-01-15T08:00:00.5Z")), 1800000000.5);
  EXPECT_FALSE(ParseIso8601("2027-01-15").has_value());
  EXPECT_FALSE(ParseIso8601("soon").has_value());
}

TEST(RetryAfterTest, SecondsOrDate) {
  TimePoint now = FromUnixSeconds(1800000000);
  EXPECT_EQ(*ParseRetryAfter("30", now), std::chrono::seconds(30));
  EXPECT_EQ(*ParseRetryAfter(" 2.5 ", now), std::chrono::milliseconds(2500));
  EXPECT_EQ(*ParseRetryAfter("Fri, 15 Jan 2027 08:00:10 GMT", now), std::chrono::seconds(10));
  EXPECT_EQ(*ParseRetryAfter("Fri, 15 Jan 2027 07:00:00 GMT", now), Duration::zero());
  EXPECT_EQ(*ParseRetryAfter("-4", now), Duration::zero());
  EXPECT_EQ(*ParseRetryAfter("1e30", now), std::chrono::hours(24));
  EXPECT_FALSE(ParseRetryAfter("soon", now).has_value());
  EXPECT_FALSE(ParseRetryAfter("nan", now).has_value());
}

TEST(HeaderMapTest, LookupIgnoresCaseAndKeepsFirst) {
  HeaderMap h;
  h.Add("ETag", "\"a\"");
  h.Add("etag", "\"b\"");
  EXPECT_EQ(h.GetOr("ETAG"), "\"a\"");
  EXPECT_FALSE(h.Get("Expires").has_value());
  EXPECT_EQ(h.GetOr("Expires", "none"), "none");
}

}  // namespace
}  // namespace sluice::agent
