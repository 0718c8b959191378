// ESI's floating-window group limits and error limit, as unit tests on the
// limiters and end to end over HTTP.
#include "sim/esi_limits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "sim_test_util.h"

namespace sluice::sim {
namespace {

using std::chrono::seconds;

TEST(SimGroupLimiterTest, TokensReturnOneWindowAfterSpending) {
  FakeClock clock(FromUnixSeconds(1767225600));
  GroupLimiter g({"alliance", 4, 60}, EsiCosts{}, &clock);
  auto a = g.Admit();
  ASSERT_TRUE(a.admitted);
  g.Settle(a.ticket, 200);
  clock.Advance(seconds(30));
  auto b = g.Admit();
  ASSERT_TRUE(b.admitted);
  EXPECT_EQ(g.Settle(b.ticket, 200).remaining, 0);

  clock.Advance(seconds(15));  // t=45: nothing has come back yet
  auto refused = g.Admit();
  EXPECT_FALSE(refused.admitted);
  EXPECT_EQ(refused.retry_after_seconds, 15);  // first spend returns at t=60
  EXPECT_EQ(refused.snapshot.used, 4);

  clock.Advance(seconds(15));  // t=60: the first two tokens are back
  EXPECT_EQ(g.Peek().remaining, 2);
  clock.Advance(seconds(30));  // t=90: all back
  EXPECT_EQ(g.Peek().remaining, 4);
}

TEST(SimGroupLimiterTest, ChargesByStatus) {
  FakeClock clock(FromUnixSeconds(1767225600));
  GroupLimiter g({"g", 100, 60}, EsiCosts{}, &clock);
  auto settle = [&](int status) { return g.Settle(g.Admit().ticket, status).used; };
  EXPECT_EQ(settle(200), 2);
  EXPECT_EQ(settle(304), 3);
  EXPECT_EQ(settle(404), 8);
  EXPECT_EQ(settle(503), 8);
}

TEST(SimErrorLimiterTest, WindowOpensAtFirstError) {
  FakeClock clock(FromUnixSeconds(1767225600));
  ErrorLimiter e(3, 60, &clock);
  EXPECT_EQ(e.Check().reset_seconds, 60);
  EXPECT_EQ(e.Record(200).remain, 3);
  EXPECT_EQ(e.Record(304).remain, 3);
  clock.Advance(seconds(10));
  EXPECT_EQ(e.Record(404).remain, 2);
  clock.Advance(seconds(20));
  EXPECT_EQ(e.Record(500).reset_seconds, 40);  // the window opened at the first error
  EXPECT_FALSE(e.Check().limited);
  EXPECT_EQ(e.Record(401).remain, 0);
  EXPECT_TRUE(e.Check().limited);
  EXPECT_EQ(e.Record(420).remain, 0);
  clock.Advance(seconds(39));
  EXPECT_TRUE(e.Check().limited);
  clock.Advance(seconds(1));
  EXPECT_FALSE(e.Check().limited);
  EXPECT_EQ(e.Check().remain, 3);
}

class SimEsiLimitsTest : public testing::SimTest {};

TEST_F(SimEsiLimitsTest, GroupLimitAnswers429AndCountsViolation) {
  SimConfig c = Unlimited();
  c.esi_groups = {{"alliance", 10, 60}};
  StartSim(c);
  for (int i = 0; i < 5; ++i) {
    auto r = Get("/alliances/");
    ASSERT_EQ(r->status, 200) << i;
    EXPECT_EQ(r->get_header_value("X-Ratelimit-Group"), "alliance");
    EXPECT_EQ(r->get_header_value("X-Ratelimit-Limit"), "10/1m");
    EXPECT_EQ(r->get_header_value("X-Ratelimit-Remaining"), std::to_string(8 - 2 * i));
    EXPECT_EQ(r->get_header_value("X-Ratelimit-Used"), std::to_string(2 + 2 * i));
  }
  EXPECT_EQ(StatsJson()["violations"]["esi_group"], 0);

  auto limited = Get("/alliances/");
  ASSERT_EQ(limited->status, 429);
  EXPECT_EQ(limited->get_header_value("Retry-After"), "60");
  EXPECT_EQ(limited->get_header_value("X-Ratelimit-Group"), "alliance");
  EXPECT_EQ(limited->get_header_value("X-Ratelimit-Remaining"), "0");
  EXPECT_EQ(limited->get_header_value("X-Ratelimit-Used"), "10");  // the 429 cost nothing
  nlohmann::json stats = StatsJson();
  EXPECT_EQ(stats["violations"]["esi_group"], 1);
  EXPECT_EQ(stats["violations"]["total"], 1);
  const nlohmann::json& alliance = stats["esi"]["groups"]["alliance"];
  EXPECT_EQ(alliance["callers"], 1);
  EXPECT_EQ(alliance["most_used"][0]["caller"], "ip:127.0.0.1");
  EXPECT_EQ(alliance["most_used"][0]["remaining"], 0);

  // Other groups are not limited and carry no group headers.
  auto other = Get("/characters/1/");
  EXPECT_EQ(other->status, 404);
  EXPECT_FALSE(other->has_header("X-Ratelimit-Group"));

  clock_.Advance(seconds(60));
  auto refilled = Get("/alliances/");
  EXPECT_EQ(refilled->status, 200);
  EXPECT_EQ(refilled->get_header_value("X-Ratelimit-Remaining"), "8");
}

TEST_F(SimEsiLimitsTest, FloatingWindowRefillsGradually) {
  SimConfig c = Unlimited();
  c.esi_groups = {{"alliance", 4, 60}};
  StartSim(c);
  ASSERT_EQ(Get("/alliances/")->status, 200);
  clock_.Advance(seconds(40));
  ASSERT_EQ(Get("/alliances/")->status, 200);
  clock_.Advance(seconds(10));
  auto limited = Get("/alliances/");
  ASSERT_EQ(limited->status, 429);
  EXPECT_EQ(limited->get_header_value("Retry-After"), "10");
  clock_.Advance(seconds(10));  // the first request's tokens are back, not the second's
  auto r = Get("/alliances/");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("X-Ratelimit-Remaining"), "0");
}

TEST_F(SimEsiLimitsTest, CostsFollowStatus) {
  SimConfig c = Unlimited();
  c.esi_groups = {{"alliance", 100, 60}};
  StartSim(c);
  auto ok = Get("/alliances/");
  EXPECT_EQ(ok->get_header_value("X-Ratelimit-Used"), "2");
  auto not_modified = Get("/alliances/", {{"If-None-Match", ok->get_header_value("ETag")}});
  ASSERT_EQ(not_modified->status, 304);
  EXPECT_EQ(not_modified->get_header_value("X-Ratelimit-Used"), "3");
  auto missing = Get("/alliances/1/");
  ASSERT_EQ(missing->status, 404);
  EXPECT_EQ(missing->get_header_value("X-Ratelimit-Used"), "8");
  ASSERT_TRUE(sim_->SetFaults(FaultConfig{1.0, 0, 0, 0, 0}).ok());
  auto failed = Get("/alliances/");
  ASSERT_GE(failed->status, 500);
  EXPECT_EQ(failed->get_header_value("X-Ratelimit-Used"), "8");
}

TEST_F(SimEsiLimitsTest, ErrorLimitBlocksEveryRoute) {
  StartSim(Unlimited());
  auto ok = Get("/alliances/");
  ASSERT_EQ(ok->status, 200);
  EXPECT_EQ(ok->get_header_value("X-ESI-Error-Limit-Remain"), "100");
  EXPECT_EQ(ok->get_header_value("X-ESI-Error-Limit-Reset"), "60");
  // 304s are not errors.
  EXPECT_EQ(Get("/alliances/", {{"If-None-Match", ok->get_header_value("ETag")}})
                ->get_header_value("X-ESI-Error-Limit-Remain"),
            "100");

  for (int i = 0; i < 100; ++i) {
    auto r = Get("/characters/1/");
    ASSERT_EQ(r->status, 404);
    ASSERT_EQ(r->get_header_value("X-ESI-Error-Limit-Remain"), std::to_string(99 - i));
  }
  for (const char* p : {"/alliances/", "/characters/1/", "/corporations/98000001/", "/nope"}) {
    auto r = Get(p);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 420) << p;
    EXPECT_EQ(r->get_header_value("X-ESI-Error-Limit-Remain"), "0");
    EXPECT_EQ(r->get_header_value("X-ESI-Error-Limit-Reset"), "60");
    EXPECT_NE(nlohmann::json::parse(r->body)["error"].get<std::string>().find("error limit"),
              std::string::npos);
  }
  nlohmann::json stats = StatsJson();
  EXPECT_EQ(stats["violations"]["esi_error_limit"], 4);
  const nlohmann::json& error_limit = stats["esi"]["error_limit"];
  EXPECT_EQ(error_limit["addresses"], 1);
  EXPECT_EQ(error_limit["limited_addresses"], 1);
  EXPECT_EQ(error_limit["least_remaining"][0]["address"], "ip:127.0.0.1");
  EXPECT_EQ(error_limit["least_remaining"][0]["remain"], 0);
  EXPECT_EQ(error_limit["least_remaining"][0]["limited"], true);

  clock_.Advance(seconds(59));
  EXPECT_EQ(Get("/alliances/")->status, 420);
  clock_.Advance(seconds(1));
  auto after = Get("/alliances/");
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(after->get_header_value("X-ESI-Error-Limit-Remain"), "100");
}

// Admission reserves tokens under the limiter's lock, so concurrent clients
// can never overspend a group between check and charge.
TEST_F(SimEsiLimitsTest, ConcurrentClientsNeverOverspend) {
  SimConfig c = Unlimited();
  c.threads = 8;
  c.esi_error_limit = 1000;  // 429s are errors too; keep 420s out of this test
  c.esi_groups = {{"alliance", 100, 60}};
  StartSim(c);
  std::atomic<int> ok{0}, limited{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      httplib::Client client("127.0.0.1", sim_->port());
      for (int i = 0; i < 20; ++i) {
        auto r = client.Get("/alliances/", {{"User-Agent", testing::kUserAgent}});
        if (r && r->status == 200)
          ++ok;
        else if (r && r->status == 429)
          ++limited;
        else
          ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 50);
  EXPECT_EQ(limited, 110);
  EXPECT_EQ(other, 0);
  nlohmann::json stats = StatsJson();
  EXPECT_EQ(stats["requests_total"], 160);
  EXPECT_EQ(stats["violations"]["esi_group"], 110);
}

TEST_F(SimEsiLimitsTest, Some429sCarryNoHeaders) {
  SimConfig c = Unlimited();
  c.esi_groups = {{"alliance", 2, 60}};
  c.faults.fault_429_no_headers_rate = 1.0;
  StartSim(c);
  ASSERT_EQ(Get("/alliances/")->status, 200);
  auto r = Get("/alliances/");
  ASSERT_EQ(r->status, 429);
  EXPECT_FALSE(r->has_header("Retry-After"));
  EXPECT_FALSE(r->has_header("X-Ratelimit-Group"));
  EXPECT_EQ(StatsJson()["faults"]["429_no_headers"], 1);
}

TEST_F(SimEsiLimitsTest, ResetLimitsRefills) {
  SimConfig c = Unlimited();
  c.esi_groups = {{"alliance", 2, 60}};
  StartSim(c);
  ASSERT_EQ(Get("/alliances/")->status, 200);
  ASSERT_EQ(Get("/alliances/")->status, 429);
  ASSERT_EQ(Post("/sim/reset_limits", "")->status, 200);
  EXPECT_EQ(Get("/alliances/")->status, 200);
}

}  // namespace
}  // namespace sluice::sim
