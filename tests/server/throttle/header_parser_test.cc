#include "server/throttle/header_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::throttle {
namespace {

using std::chrono::seconds;

const TimePoint kNow = FromUnixSeconds(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT

TEST(ParseIntegerTest, Table) {
  struct Case {
    const char* text;
    bool ok;
    int64_t value;
  };
  for (const Case& c : std::vector<Case>{{"0", true, 0},
                                         {" 42 ", true, 42},
                                         {"-3", true, -3},
                                         {"", false, 0},
                                         {"4x", false, 0},
                                         {"1.5", false, 0},
                                         {"99999999999999999999", false, 0}}) {
    auto v = ParseInteger(c.text);
    EXPECT_EQ(v.ok(), c.ok) << c.text;
    if (c.ok && v.ok()) {
      EXPECT_EQ(*v, c.value) << c.text;
    }
  }
}

TEST(ParseEsiLimitTest, Table) {
  struct Case {
    const char* text;
    bool ok;
    int64_t tokens;
    int64_t window_s;
  };
  for (const Case& c : std::vector<Case>{{"150/15m", true, 150, 900},
                                         {"600/1m", true, 600, 60},
                                         {"300/m", true, 300, 60},
                                         {"10/30s", true, 10, 30},
                                         {"3600/1h", true, 3600, 3600},
                                         {"5/1d", true, 5, 86400},
                                         {" 150 / 15m ", true, 150, 900},
                                         {"150", false, 0, 0},
                                         {"150/", false, 0, 0},
                                         {"150/15", false, 0, 0},
                                         {"150/15x", false, 0, 0},
                                         {"0/15m", false, 0, 0},
                                         {"-1/15m", false, 0, 0},
                                         {"150/0m", false, 0, 0},
                                         {"abc/15m", false, 0, 0},
                                         {"150/15m/2", false, 0, 0},
                                         {"150/99999999d", false, 0, 0}}) {
    auto v = ParseEsiLimit(c.text);
    EXPECT_EQ(v.ok(), c.ok) << c.text;
    if (c.ok && v.ok()) {
      EXPECT_EQ(v->first, c.tokens) << c.text;
      EXPECT_EQ(v->second, seconds(c.window_s)) << c.text;
    }
  }
}

TEST(ParsePoeTiersTest, Table) {
  auto two = ParsePoeTiers("45:60:120,180:1800:600");
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].hits, 45);
  EXPECT_EQ((*two)[0].period_seconds, 60);
  EXPECT_EQ((*two)[0].restriction_seconds, 120);
  EXPECT_EQ((*two)[1].hits, 180);
  EXPECT_EQ((*two)[1].period_seconds, 1800);
  EXPECT_EQ((*two)[1].restriction_seconds, 600);
  EXPECT_TRUE(ParsePoeTiers(" 8:10:60 ").ok());
  for (const char* bad : {"", "45:60", "45:60:120:1", "45:60:x", "45:60:120,", "0:60:120",
                          "45:0:120", "-1:60:120", "45:60:-1", "45;60;120"}) {
    EXPECT_FALSE(ParsePoeTiers(bad).ok()) << bad;
  }
}

TEST(ParsePoeTierStatesTest, Table) {
  auto s = ParsePoeTierStates("1:60:0,46:1800:600");
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].hits, 1);
  EXPECT_EQ((*s)[1].hits, 46);
  EXPECT_EQ((*s)[1].active_restriction_seconds, 600);
  EXPECT_TRUE(ParsePoeTierStates("0:60:0").ok());  // zero hits is a valid state
  for (const char* bad : {"", "1:60", "1:0:0", "a:60:0", "1:60:0;2:60:0"}) {
    EXPECT_FALSE(ParsePoeTierStates(bad).ok()) << bad;
  }
}

// Retry-After's own cases (seconds, decimals rounded up, the three date
// forms, negatives, clamping) are in tests/common/http_date_test.cc: the
// throttler and the agent share common/http_date.h's parser.
TEST(ParseRateLimitHeadersTest, RetryAfterIsTheSharedParsersAnswer) {
  for (Upstream upstream : {Upstream::kEsi, Upstream::kPoe}) {
    ParsedHeaders p = ParseRateLimitHeaders(upstream, {{"Retry-After", "1.2"}}, kNow);
    EXPECT_EQ(p.retry_after, Duration(seconds(2))) << "rounded up";
    p = ParseRateLimitHeaders(upstream, {{"retry-after", "Wed, 21 Oct 2015 07:29:00 GMT"}}, kNow);
    EXPECT_EQ(p.retry_after, Duration(seconds(60)));
    p = ParseRateLimitHeaders(upstream, {{"Retry-After", "999999999999"}}, kNow);
    EXPECT_EQ(p.retry_after, Duration(kMaxRetryAfter));
    p = ParseRateLimitHeaders(upstream, {{"Retry-After", "-5"}}, kNow);
    EXPECT_FALSE(p.retry_after);
    ASSERT_EQ(p.problems.size(), 1u);
    EXPECT_EQ(p.problems[0], "Retry-After: '-5': negative number of seconds");
  }
}

TEST(ParseRateLimitHeadersTest, EsiFullSet) {
  HeaderList h = {{"X-ESI-Error-Limit-Remain", "87"},   {"x-esi-error-limit-reset", "23"},
                  {"X-Ratelimit-Group", "char-detail"}, {"X-Ratelimit-Limit", "150/15m"},
                  {"X-RateLimit-Remaining", "148"},     {"X-Ratelimit-Used", "2"},
                  {"Content-Type", "application/json"}};
  ParsedHeaders p = ParseRateLimitHeaders(Upstream::kEsi, h, kNow);
  EXPECT_TRUE(p.problems.empty());
  ASSERT_TRUE(p.esi_error);
  EXPECT_EQ(p.esi_error->remain, 87);
  EXPECT_EQ(p.esi_error->reset_seconds, 23);
  ASSERT_TRUE(p.esi_group);
  EXPECT_EQ(p.esi_group->group, "char-detail");
  EXPECT_EQ(p.esi_group->limit, 150);
  EXPECT_EQ(p.esi_group->window, Duration(seconds(900)));
  EXPECT_EQ(p.esi_group->remaining, 148);
  EXPECT_EQ(p.esi_group->used, 2);
  EXPECT_FALSE(p.poe);
  EXPECT_FALSE(p.retry_after);
}

TEST(ParseRateLimitHeadersTest, EsiMalformedValuesAreReportedAndDropped) {
  struct Case {
    HeaderList headers;
    bool error_limit;
    bool group;
    bool group_limit;
  };
  std::vector<Case> cases = {
      // Bad remain: the whole error-limit reading is dropped.
      {{{"X-ESI-Error-Limit-Remain", "lots"}, {"X-ESI-Error-Limit-Reset", "10"}},
       false,
       false,
       false},
      // Bad reset: remain still usable, reset dropped.
      {{{"X-ESI-Error-Limit-Remain", "10"}, {"X-ESI-Error-Limit-Reset", "-1"}}, true, false, false},
      // Bad group name: no group at all.
      {{{"X-Ratelimit-Group", "bad group!"}, {"X-Ratelimit-Limit", "150/15m"}},
       false,
       false,
       false},
      // Good group, bad limit: group kept, limit not learned.
      {{{"X-Ratelimit-Group", "g"}, {"X-Ratelimit-Limit", "150 per 15m"}}, false, true, false},
      // Limit without a group: ignored.
      {{{"X-Ratelimit-Limit", "150/15m"}}, false, false, false},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    ParsedHeaders p = ParseRateLimitHeaders(Upstream::kEsi, cases[i].headers, kNow);
    EXPECT_FALSE(p.problems.empty()) << i;
    EXPECT_EQ(p.esi_error.has_value(), cases[i].error_limit) << i;
    EXPECT_EQ(p.esi_group.has_value(), cases[i].group) << i;
    if (p.esi_group) {
      EXPECT_EQ(p.esi_group->limit.has_value(), cases[i].group_limit) << i;
    }
  }
  ParsedHeaders p = ParseRateLimitHeaders(
      Upstream::kEsi, {{"X-ESI-Error-Limit-Remain", "10"}, {"X-ESI-Error-Limit-Reset", "-1"}},
      kNow);
  EXPECT_FALSE(p.esi_error->reset_seconds);
}

TEST(ParseRateLimitHeadersTest, PoeFullSet) {
  HeaderList h = {{"X-Rate-Limit-Policy", "public-stash-request-limit"},
                  {"X-Rate-Limit-Rules", "Ip,Account"},
                  {"X-Rate-Limit-Ip", "45:60:120,180:1800:600"},
                  {"X-Rate-Limit-Ip-State", "1:60:0,1:1800:0"},
                  {"X-Rate-Limit-Account", "3:5:60"},
                  {"X-Rate-Limit-Account-State", "4:5:60"},
                  {"Retry-After", "60"}};
  ParsedHeaders p = ParseRateLimitHeaders(Upstream::kPoe, h, kNow);
  EXPECT_TRUE(p.problems.empty()) << p.problems[0];
  ASSERT_TRUE(p.poe);
  EXPECT_EQ(p.poe->policy, "public-stash-request-limit");
  EXPECT_TRUE(p.poe->complete);
  ASSERT_EQ(p.poe->rules.size(), 2u);
  EXPECT_EQ(p.poe->rules[0].name, "Ip");
  ASSERT_EQ(p.poe->rules[0].tiers.size(), 2u);
  ASSERT_TRUE(p.poe->rules[0].state);
  EXPECT_EQ((*p.poe->rules[0].state)[1].period_seconds, 1800);
  EXPECT_EQ(p.poe->rules[1].name, "Account");
  EXPECT_EQ((*p.poe->rules[1].state)[0].active_restriction_seconds, 60);
  EXPECT_EQ(p.retry_after, Duration(seconds(60)));
  // ESI headers are not looked at for PoE.
  EXPECT_FALSE(p.esi_group);
}

TEST(ParseRateLimitHeadersTest, PoeMalformedNeverWidens) {
  // A listed rule with a malformed tier header: the shape is incomplete (the
  // throttler keeps what it knew), but good -State headers still apply.
  HeaderList h = {{"X-Rate-Limit-Policy", "p"},
                  {"X-Rate-Limit-Rules", "Ip,Account"},
                  {"X-Rate-Limit-Ip", "45:60:120"},
                  {"X-Rate-Limit-Ip-State", "3:60:0"},
                  {"X-Rate-Limit-Account", "3:five:60"}};
  ParsedHeaders p = ParseRateLimitHeaders(Upstream::kPoe, h, kNow);
  ASSERT_TRUE(p.poe);
  EXPECT_FALSE(p.poe->complete);
  EXPECT_EQ(p.problems.size(), 1u);
  ASSERT_TRUE(p.poe->rules[0].state);
  EXPECT_EQ((*p.poe->rules[0].state)[0].hits, 3);

  // A listed rule without its header.
  p = ParseRateLimitHeaders(Upstream::kPoe,
                            {{"X-Rate-Limit-Policy", "p"}, {"X-Rate-Limit-Rules", "Ip"}}, kNow);
  ASSERT_TRUE(p.poe);
  EXPECT_FALSE(p.poe->complete);

  // Malformed state: the rule's limits are kept, its state dropped.
  p = ParseRateLimitHeaders(Upstream::kPoe,
                            {{"X-Rate-Limit-Policy", "p"},
                             {"X-Rate-Limit-Rules", "Ip"},
                             {"X-Rate-Limit-Ip", "45:60:120"},
                             {"X-Rate-Limit-Ip-State", "garbage"}},
                            kNow);
  ASSERT_TRUE(p.poe);
  EXPECT_TRUE(p.poe->complete);
  EXPECT_FALSE(p.poe->rules[0].state);
  EXPECT_EQ(p.problems.size(), 1u);

  // Unknown rule header and a rules list without policy.
  p = ParseRateLimitHeaders(Upstream::kPoe,
                            {{"X-Rate-Limit-Policy", "p"},
                             {"X-Rate-Limit-Rules", "Ip"},
                             {"X-Rate-Limit-Ip", "45:60:120"},
                             {"X-Rate-Limit-Client", "1:1:1"}},
                            kNow);
  EXPECT_EQ(p.problems.size(), 1u);
  p = ParseRateLimitHeaders(Upstream::kPoe, {{"X-Rate-Limit-Rules", "Ip"}}, kNow);
  EXPECT_FALSE(p.poe);
  EXPECT_EQ(p.problems.size(), 1u);

  // Bad policy name.
  p = ParseRateLimitHeaders(Upstream::kPoe, {{"X-Rate-Limit-Policy", "a/b"}}, kNow);
  EXPECT_FALSE(p.poe);
  EXPECT_EQ(p.problems.size(), 1u);
}

TEST(ParseRateLimitHeadersTest, MalformedRetryAfterIsAProblemNotAValue) {
  ParsedHeaders p = ParseRateLimitHeaders(Upstream::kEsi, {{"Retry-After", "later"}}, kNow);
  EXPECT_FALSE(p.retry_after);
  EXPECT_EQ(p.problems.size(), 1u);
}

TEST(ParseRateLimitHeadersTest, LongValuesAreTruncatedInProblems) {
  std::string huge(10000, 'x');
  ParsedHeaders p = ParseRateLimitHeaders(Upstream::kEsi, {{"X-Ratelimit-Group", huge}}, kNow);
  ASSERT_EQ(p.problems.size(), 1u);
  EXPECT_LT(p.problems[0].size(), 200u);
}

}  // namespace
}  // namespace sluice::throttle
