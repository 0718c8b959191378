// Injected faults: 5xx, malformed bodies, delays, and runtime reconfiguration.
#include <gtest/gtest.h>

#include "sim_test_util.h"

namespace sluice::sim {
namespace {

class SimFaultsTest : public testing::SimTest {};

TEST_F(SimFaultsTest, FiveXxRateOneAlwaysFails) {
  SimConfig c = Unlimited();
  c.faults.fault_5xx_rate = 1.0;
  StartSim(c);
  for (const char* p : {"/alliances/", "/public-stash-tabs", "/currency-exchange/1767225600"}) {
    auto r = Get(p);
    ASSERT_TRUE(r);
    EXPECT_GE(r->status, 500) << p;
    EXPECT_LE(r->status, 504) << p;
    EXPECT_TRUE(nlohmann::json::parse(r->body).contains("error")) << p;
  }
  // Fault 5xx count against ESI's error limit, as real ones do.
  EXPECT_EQ(Get("/alliances/")->get_header_value("X-ESI-Error-Limit-Remain"), "98");
  EXPECT_EQ(StatsJson()["faults"]["5xx"], 4);
}

TEST_F(SimFaultsTest, MalformedBodiesDoNotParse) {
  SimConfig c = Unlimited();
  c.faults.fault_malformed_rate = 1.0;
  StartSim(c);
  for (int i = 0; i < 6; ++i) {
    for (const char* p : {"/alliances/", "/public-stash-tabs"}) {
      auto r = Get(p);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200);
      EXPECT_TRUE(nlohmann::json::parse(r->body, nullptr, false).is_discarded()) << r->body;
    }
  }
}

TEST_F(SimFaultsTest, SlowRequestsAreDelayed) {
  SimConfig c = Unlimited();
  c.faults.fault_slow_rate = 1.0;
  c.faults.fault_slow_ms = 200;
  StartSim(c);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Get("/alliances/")->status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
}

TEST_F(SimFaultsTest, RuntimeReconfiguration) {
  StartSim(Unlimited());
  EXPECT_EQ(Get("/alliances/")->status, 200);
  auto set = Post("/sim/faults", R"({"fault_5xx_rate": 1.0})");
  ASSERT_EQ(set->status, 200) << set->body;
  EXPECT_EQ(nlohmann::json::parse(set->body)["fault_5xx_rate"], 1.0);
  EXPECT_GE(Get("/alliances/")->status, 500);
  EXPECT_EQ(nlohmann::json::parse(Get("/sim/faults")->body)["fault_5xx_rate"], 1.0);

  EXPECT_EQ(Post("/sim/faults", "{")->status, 400);
  EXPECT_EQ(Post("/sim/faults", R"({"fault_5xx_rate": 7})")->status, 400);
  EXPECT_EQ(Post("/sim/faults", R"({"bogus": 1})")->status, 400);
  EXPECT_EQ(sim_->faults().fault_5xx_rate, 1.0);  // rejected updates change nothing

  ASSERT_EQ(Post("/sim/faults", R"({"fault_5xx_rate": 0})")->status, 200);
  EXPECT_EQ(Get("/alliances/")->status, 200);
  EXPECT_FALSE(sim_->SetFaults(FaultConfig{-1, 0, 0, 0, 0}).ok());
}

TEST_F(SimFaultsTest, SameSeedSameFaults) {
  SimConfig c = Unlimited();
  c.faults.fault_5xx_rate = 0.5;
  auto run = [&] {
    StartSim(c);
    std::string statuses;
    for (int i = 0; i < 40; ++i) statuses += std::to_string(Get("/alliances/")->status) + ",";
    client_.reset();
    sim_.reset();
    return statuses;
  };
  std::string first = run();
  EXPECT_EQ(first, run());
  EXPECT_NE(first.find("200"), std::string::npos);
  EXPECT_NE(first.find("50"), std::string::npos);
}

}  // namespace
}  // namespace sluice::sim
