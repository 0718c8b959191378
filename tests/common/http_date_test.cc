// The one HTTP-date / Retry-After parser (common/http_date.h), with the cases
// of the agent's and the throttler's former parsers, and those on which they
// disagreed.
#include "common/http_date.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice {
namespace {

using std::chrono::seconds;

// From the agent's former tests.

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

TEST(HttpDateTest, RfcExamplesWhitespaceAndImpossibleDates) {
  // RFC 9110's three spellings of one instant; asctime pads the day.
  for (const char* text : {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                           "Sun Nov  6 08:49:37 1994", "  Sun, 06 Nov 1994 08:49:37 GMT\r\n"}) {
    auto t = ParseHttpDate(text);
    ASSERT_TRUE(t.has_value()) << text;
    EXPECT_EQ(ToUnixSeconds(*t), 784111777) << text;
  }
  // The agent's parser read 30 Feb as 2 Mar; no date is better than a wrong one.
  EXPECT_FALSE(ParseHttpDate("Mon, 30 Feb 2015 07:29:00 GMT").has_value());
  EXPECT_FALSE(ParseHttpDate("Wed, 32 Oct 2015 07:29:00 GMT").has_value());
  EXPECT_FALSE(ParseHttpDate("Fri, 15 Jan 2027 08:00:00 UTC").has_value());
}

TEST(RetryAfterTest, SecondsOrDate) {
  TimePoint now = FromUnixSeconds(1800000000);
  EXPECT_EQ(*ParseRetryAfter("30", now), std::chrono::seconds(30));
  // The agent's parser kept fractions (2.5 s) and read negatives as zero;
  // the throttler's rounded up and refused them, which is what both do now.
  EXPECT_EQ(*ParseRetryAfter(" 2.5 ", now), std::chrono::seconds(3));
  EXPECT_EQ(*ParseRetryAfter("Fri, 15 Jan 2027 08:00:10 GMT", now), std::chrono::seconds(10));
  EXPECT_EQ(*ParseRetryAfter("Fri, 15 Jan 2027 07:00:00 GMT", now), Duration::zero());
  EXPECT_FALSE(ParseRetryAfter("-4", now).ok());
  EXPECT_EQ(*ParseRetryAfter("1e30", now), std::chrono::hours(24));
  EXPECT_FALSE(ParseRetryAfter("soon", now).ok());
  EXPECT_FALSE(ParseRetryAfter("nan", now).ok());
}

// From the throttler's former tests (server/throttle/header_parser).

const TimePoint kNow = FromUnixSeconds(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT

TEST(ParseRetryAfterTest, Table) {
  struct Case {
    const char* text;
    bool ok;
    int64_t seconds;
  };
  for (const Case& c : std::vector<Case>{{"120", true, 120},
                                         {"0", true, 0},
                                         {" 5 ", true, 5},
                                         {"1.2", true, 2},  // rounded up
                                         {"Wed, 21 Oct 2015 07:29:00 GMT", true, 60},
                                         {"Wednesday, 21-Oct-15 07:28:30 GMT", true, 30},
                                         {"Wed Oct 21 07:28:10 2015", true, 10},
                                         {"Wed, 21 Oct 2015 07:00:00 GMT", true, 0},  // past
                                         {"999999999999", true, 24 * 3600},           // clamped
                                         {"", false, 0},
                                         {"-5", false, 0},
                                         {"soon", false, 0},
                                         {"Wed, 32 Oct 2015 07:29:00 GMT", false, 0},
                                         {"nan", false, 0}}) {
    auto v = ParseRetryAfter(c.text, kNow);
    EXPECT_EQ(v.ok(), c.ok) << c.text;
    if (c.ok && v.ok()) {
      EXPECT_EQ(*v, seconds(c.seconds)) << c.text;
    }
  }
}

// Where the two former parsers disagreed (agent / throttler), and what the
// one parser says.
TEST(ParseRetryAfterTest, FormerDisagreements) {
  struct Case {
    const char* text;
    bool ok;
    Duration wait;
  };
  for (const Case& c : std::vector<Case>{
           {"0.001", true, seconds(1)},                   // 1 ms / 1 s: rounded up
           {"59.5", true, seconds(60)},                   // 59.5 s / 60 s
           {"-0.5", false, {}},                           // 0 / refused: negative
           {"-4", false, {}},                             // 0 / refused
           {"+5", false, {}},                             // 5 s / refused: not delay-seconds
           {".5", false, {}},                             // 0.5 s / refused
           {"Mon, 30 Feb 2015 07:29:00 GMT", false, {}},  // 2 Mar (past: 0) / refused
           {"Fri, 01 Jan 2100 00:00:00 GMT", true, kMaxRetryAfter},  // 84 years / 24 h
       }) {
    auto v = ParseRetryAfter(c.text, kNow);
    EXPECT_EQ(v.ok(), c.ok) << c.text << ": " << v.status();
    if (c.ok && v.ok()) {
      EXPECT_EQ(*v, c.wait) << c.text;
    }
  }
}

TEST(ParseRetryAfterTest, GarbageThatLooksLikeANumber) {
  for (const char* text : {"0x10", "inf", "-inf", "1e999", "5s", "5 s", "1_0", "--5"}) {
    auto v = ParseRetryAfter(text, kNow);
    EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
  EXPECT_EQ(*ParseRetryAfter("1e-999", kNow), Duration::zero());
  EXPECT_EQ(*ParseRetryAfter("3e1", kNow), seconds(30));
}

TEST(ParseRetryAfterTest, ErrorsSayWhatWasWrong) {
  EXPECT_EQ(ParseRetryAfter("  ", kNow).status().message(), "empty");
  EXPECT_EQ(ParseRetryAfter("-4", kNow).status().message(), "negative number of seconds");
  EXPECT_EQ(ParseRetryAfter("1e999", kNow).status().message(), "not a finite number of seconds");
  EXPECT_EQ(ParseRetryAfter("5s", kNow).status().message(), "not a number of seconds");
  EXPECT_EQ(ParseRetryAfter("soon", kNow).status().message(), "neither seconds nor an HTTP-date");
  EXPECT_EQ(ParseRetryAfter("soon", kNow).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParseRetryAfterTest, ADateIsExactNotRounded) {
  // Only delay-seconds are rounded: a date names its own instant.
  TimePoint now = kNow + std::chrono::milliseconds(300);
  EXPECT_EQ(*ParseRetryAfter("Wed, 21 Oct 2015 07:28:10 GMT", now),
            std::chrono::milliseconds(9700));
}

}  // namespace
}  // namespace sluice
