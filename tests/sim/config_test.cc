#include "sim/config.h"

#include <gtest/gtest.h>

namespace sluice::sim {
namespace {

TEST(SimConfigTest, ParsesEsiGroups) {
  auto groups = ParseEsiGroups("alliance=600/1m, corporation=150/15m,character=10/30");
  ASSERT_TRUE(groups.ok()) << groups.status();
  ASSERT_EQ(groups->size(), 3u);
  EXPECT_EQ((*groups)[0].name, "alliance");
  EXPECT_EQ((*groups)[0].tokens, 600);
  EXPECT_EQ((*groups)[0].window_seconds, 60);
  EXPECT_EQ((*groups)[1].window_seconds, 900);
  EXPECT_EQ((*groups)[2].window_seconds, 30);
  EXPECT_EQ(FormatEsiLimit((*groups)[1]), "150/15m");
  EXPECT_EQ(FormatEsiLimit({"x", 5, 7200}), "5/2h");
  EXPECT_EQ(FormatEsiLimit({"x", 5, 90}), "5/90s");
}

TEST(SimConfigTest, EmptyEsiGroupsMeansNone) {
  auto groups = ParseEsiGroups("");
  ASSERT_TRUE(groups.ok());
  EXPECT_TRUE(groups->empty());
}

TEST(SimConfigTest, RejectsBadEsiGroups) {
  for (const char* bad : {"alliance", "alliance=600", "alliance=x/1m", "alliance=600/1d", "=600/1m",
                          "a=1/1m,a=2/1m", "a=0/1m"}) {
    EXPECT_FALSE(ParseEsiGroups(bad).ok()) << bad;
  }
}

TEST(SimConfigTest, ParsesPoeRules) {
  auto rules = ParsePoeRules("Ip=45:60:120,180:1800:600;Client=10:5:10");
  ASSERT_TRUE(rules.ok()) << rules.status();
  ASSERT_EQ(rules->size(), 2u);
  EXPECT_EQ((*rules)[0].name, "Ip");
  ASSERT_EQ((*rules)[0].tiers.size(), 2u);
  EXPECT_EQ((*rules)[0].tiers[1].hits, 180);
  EXPECT_EQ((*rules)[0].tiers[1].period_seconds, 1800);
  EXPECT_EQ((*rules)[0].tiers[1].restriction_seconds, 600);
  EXPECT_EQ(FormatPoeTiers((*rules)[0]), "45:60:120,180:1800:600");
  EXPECT_TRUE(ParsePoeRules("")->empty());
  for (const char* bad : {"Ip", "Ip=45:60", "Ip=a:60:120", "Ip=0:60:120", "I-p=1:1:1"}) {
    EXPECT_FALSE(ParsePoeRules(bad).ok()) << bad;
  }
}

TEST(SimConfigTest, MergesFaultsJson) {
  FaultConfig base;
  auto merged = MergeFaultsJson({{"fault_5xx_rate", 0.5}, {"fault_slow_ms", 10}}, base);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_DOUBLE_EQ(merged->fault_5xx_rate, 0.5);
  EXPECT_EQ(merged->fault_slow_ms, 10);
  EXPECT_DOUBLE_EQ(merged->fault_malformed_rate, 0);
  EXPECT_FALSE(MergeFaultsJson({{"fault_5xx_rate", 2}}, base).ok());
  EXPECT_FALSE(MergeFaultsJson({{"fault_5xx_rat", 0.1}}, base).ok());
  EXPECT_FALSE(MergeFaultsJson({{"fault_5xx_rate", "0.1"}}, base).ok());
  EXPECT_FALSE(MergeFaultsJson(nlohmann::json::array(), base).ok());
}

TEST(SimConfigTest, ValidatesUniverse) {
  SimConfig c;
  EXPECT_TRUE(ValidateConfig(c).ok());
  c.universe.characters = c.universe.corporations - 1;
  EXPECT_FALSE(ValidateConfig(c).ok());
  c = SimConfig();
  c.universe.corporations = c.universe.alliances - 1;
  EXPECT_FALSE(ValidateConfig(c).ok());
}

}  // namespace
}  // namespace sluice::sim
