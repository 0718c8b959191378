// PoE policies, rules, tiers and restrictions, and the stream endpoints.
#include "sim/poe_limits.h"

#include <gtest/gtest.h>

#include "sim_test_util.h"

namespace sluice::sim {
namespace {

using std::chrono::seconds;

class SimPoeTest : public testing::SimTest {
 protected:
  void StartWithRules(const std::string& stash, const std::string& exchange = "") {
    SimConfig c = Unlimited();
    c.poe_stash_rules = *ParsePoeRules(stash);
    c.poe_exchange_rules = *ParsePoeRules(exchange);
    StartSim(c);
  }
};

TEST_F(SimPoeTest, TierBreachRestrictsAndStateShowsIt) {
  StartWithRules("Ip=3:10:30,5:60:120");
  for (int i = 1; i <= 3; ++i) {
    auto r = Get("/public-stash-tabs");
    ASSERT_EQ(r->status, 200) << i;
    EXPECT_EQ(r->get_header_value("X-Rate-Limit-Policy"), "public-stash-request-limit");
    EXPECT_EQ(r->get_header_value("X-Rate-Limit-Rules"), "Ip");
    EXPECT_EQ(r->get_header_value("X-Rate-Limit-Ip"), "3:10:30,5:60:120");
    EXPECT_EQ(r->get_header_value("X-Rate-Limit-Ip-State"),
              std::to_string(i) + ":10:0," + std::to_string(i) + ":60:0");
  }
  auto breach = Get("/public-stash-tabs");
  ASSERT_EQ(breach->status, 429);
  EXPECT_EQ(breach->get_header_value("Retry-After"), "30");
  EXPECT_EQ(breach->get_header_value("X-Rate-Limit-Ip-State"), "3:10:30,3:60:0");
  EXPECT_EQ(nlohmann::json::parse(breach->body)["error"]["code"], 3);

  clock_.Advance(seconds(20));  // the period is over, the restriction is not
  auto during = Get("/public-stash-tabs");
  ASSERT_EQ(during->status, 429);
  EXPECT_EQ(during->get_header_value("Retry-After"), "10");
  EXPECT_EQ(during->get_header_value("X-Rate-Limit-Ip-State"), "0:10:10,3:60:0");

  nlohmann::json stats = StatsJson();
  EXPECT_EQ(stats["violations"]["poe_rule"], 1);
  EXPECT_EQ(stats["violations"]["poe_restriction"], 1);
  EXPECT_EQ(stats["poe"]["public-stash-request-limit"]["rules"]["Ip"]["clients"]["127.0.0.1"],
            "0:10:10,3:60:0");

  clock_.Advance(seconds(10));
  auto after = Get("/public-stash-tabs");
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(after->get_header_value("X-Rate-Limit-Ip-State"), "1:10:0,4:60:0");
}

TEST_F(SimPoeTest, PoliciesAreSeparate) {
  StartWithRules("Ip=1:10:60", "Ip=2:10:60");
  EXPECT_EQ(Get("/public-stash-tabs")->status, 200);
  EXPECT_EQ(Get("/public-stash-tabs")->status, 429);
  auto ex = Get("/currency-exchange/1767214800");
  ASSERT_EQ(ex->status, 200);
  EXPECT_EQ(ex->get_header_value("X-Rate-Limit-Policy"), "currency-exchange-request-limit");
  EXPECT_EQ(ex->get_header_value("X-Rate-Limit-Ip-State"), "1:10:0");
}

TEST_F(SimPoeTest, NoRulesNoHeaders) {
  StartWithRules("");
  auto r = Get("/public-stash-tabs");
  ASSERT_EQ(r->status, 200);
  EXPECT_FALSE(r->has_header("X-Rate-Limit-Policy"));
  EXPECT_FALSE(r->has_header("X-ESI-Error-Limit-Remain"));
}

TEST_F(SimPoeTest, StashStreamKeepsCursorOnEmptyPage) {
  StartWithRules("");
  nlohmann::json first = GetJson("/public-stash-tabs");
  EXPECT_TRUE(first["stashes"].is_array());
  std::string id = first["next_change_id"];
  EXPECT_FALSE(id.empty());
  nlohmann::json next = GetJson("/public-stash-tabs?id=2107-3368-2939-3921-1210");
  EXPECT_EQ(next["next_change_id"], "2107-3368-2939-3921-1210");
  EXPECT_EQ(Get("/public-stash-tabs?id=abc")->status, 400);
  EXPECT_EQ(Get("/public-stash-tabs/xbox")->status, 200);
  EXPECT_EQ(Get("/public-stash-tabs/nope")->status, 404);
}

TEST_F(SimPoeTest, ExchangeCursorAdvancesByCompletedHours) {
  StartWithRules("");
  const int64_t now = 1767225600;
  nlohmann::json past = GetJson("/currency-exchange/" + std::to_string(now - 7200));
  EXPECT_EQ(past["next_change_id"], now - 3600);
  EXPECT_TRUE(past["markets"].is_array());
  // Unaligned ids round down to their hour.
  EXPECT_EQ(GetJson("/currency-exchange/" + std::to_string(now - 7000))["next_change_id"],
            now - 3600);
  // The current hour is not over: the cursor stays.
  EXPECT_EQ(GetJson("/currency-exchange/" + std::to_string(now))["next_change_id"], now);
  EXPECT_EQ(GetJson("/currency-exchange/" + std::to_string(now + 7200))["next_change_id"],
            now + 7200);
  EXPECT_LT(GetJson("/currency-exchange")["next_change_id"].get<int64_t>(), now);
  EXPECT_EQ(Get("/currency-exchange/yesterday")->status, 400);
}

TEST(SimPoeLimiterTest, ClientsAreKeyedSeparately) {
  FakeClock clock(FromUnixSeconds(1767225600));
  PoeLimiter l("p", *ParsePoeRules("Ip=1:10:60"), &clock);
  const PoeCaller a{"10.0.0.1", kPoeAnonymous}, b{"10.0.0.2", kPoeAnonymous};
  EXPECT_EQ(l.Decide(a).outcome, PoeLimiter::Outcome::kAllowed);
  EXPECT_EQ(l.Decide(b).outcome, PoeLimiter::Outcome::kAllowed);
  EXPECT_EQ(l.Decide(a).outcome, PoeLimiter::Outcome::kRuleExceeded);
  EXPECT_EQ(l.Decide(a).outcome, PoeLimiter::Outcome::kRestricted);
  clock.Advance(seconds(60));
  EXPECT_EQ(l.Decide(a).outcome, PoeLimiter::Outcome::kAllowed);
}

}  // namespace
}  // namespace sluice::sim
