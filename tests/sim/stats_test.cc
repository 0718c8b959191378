// The /sim/stats counters.
#include <gtest/gtest.h>

#include "sim_test_util.h"

namespace sluice::sim {
namespace {

class SimStatsTest : public testing::SimTest {};

TEST_F(SimStatsTest, CountsRoutesStatusesAndUserAgents) {
  StartSim(Unlimited());
  auto list = Get("/alliances/");
  int64_t a = nlohmann::json::parse(list->body)[0];
  Get("/alliances/" + std::to_string(a) + "/");
  Get("/latest/alliances/" + std::to_string(a) + "/");
  Get("/alliances/", {{"If-None-Match", list->get_header_value("ETag")}});
  Get("/characters/1/");
  Get("/public-stash-tabs");
  // httplib adds its own User-Agent unless one is given; an empty one is "missing".
  Get("/alliances/", {{"User-Agent", ""}});

  nlohmann::json s = StatsJson();
  EXPECT_EQ(s["requests_total"], 7);
  EXPECT_EQ(s["requests_by_route"]["/alliances/"], 3);
  EXPECT_EQ(s["requests_by_route"]["/alliances/{alliance_id}/"], 2);
  EXPECT_EQ(s["requests_by_route"]["/characters/{character_id}/"], 1);
  EXPECT_EQ(s["requests_by_route"]["/public-stash-tabs"], 1);
  EXPECT_EQ(s["responses_by_status"]["200"], 5);
  EXPECT_EQ(s["responses_by_status"]["304"], 1);
  EXPECT_EQ(s["responses_by_status"]["404"], 1);
  EXPECT_EQ(s["not_modified"], 1);
  EXPECT_EQ(s["errors"], 1);
  EXPECT_EQ(s["requests_without_user_agent"], 1);
  EXPECT_EQ(s["user_agents"][testing::kUserAgent], 6);
  EXPECT_EQ(s["violations"]["total"], 0);
  EXPECT_TRUE(s["violations"]["by_caller"].empty());
  EXPECT_EQ(s["requests_by_caller"]["callers"], 1);
  EXPECT_EQ(s["requests_by_caller"]["top"][0]["caller"], "ip:127.0.0.1");
  EXPECT_EQ(s["requests_by_caller"]["top"][0]["requests"], 7);
  EXPECT_EQ(s["esi"]["error_limit"]["least_remaining"][0]["remain"], 99);
  EXPECT_EQ(s["universe"]["alliances"]["count"], 40);
  // /sim/* requests are not upstream traffic.
  EXPECT_EQ(StatsJson()["requests_total"], 7);

  ASSERT_EQ(Post("/sim/reset_stats", "")->status, 200);
  s = StatsJson();
  EXPECT_EQ(s["requests_total"], 0);
  EXPECT_TRUE(s["requests_by_route"].empty());
  EXPECT_EQ(s["violations"]["esi_group"], 0);
  EXPECT_EQ(s["requests_by_caller"]["callers"], 0);
  // Limiter state survives a stats reset.
  EXPECT_EQ(s["esi"]["error_limit"]["least_remaining"][0]["remain"], 99);
}

TEST_F(SimStatsTest, StopIsCleanAndIdempotent) {
  StartSim(Unlimited());
  EXPECT_EQ(Get("/sim/healthz")->status, 200);
  EXPECT_FALSE(sim_->Start(0).ok());
  sim_->Stop();
  sim_->Stop();
  EXPECT_FALSE(Get("/sim/healthz"));
}

TEST_F(SimStatsTest, BadConfigFailsStart) {
  SimConfig c = Unlimited();
  c.universe.characters = 3;
  Simulator sim(c, &clock_);
  absl::StatusOr<int> port = sim.Start(0);
  EXPECT_TRUE(absl::IsInvalidArgument(port.status())) << port.status();
}

}  // namespace
}  // namespace sluice::sim
