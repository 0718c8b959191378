// The simulator's PoE stream content: a deterministic stash stream that grows
// with the clock and answers an empty page at its head, stashes and items in
// PoE's JSON shape (leagues, accounts, price notes, private stashes), and an
// hourly exchange with configured missing and skipped hours.
#include <gtest/gtest.h>

#include "sim/poe_routes.h"
#include "sim_test_util.h"

namespace sluice::sim {
namespace {

using std::chrono::seconds;

class SimPoeStreamTest : public testing::SimTest {
 protected:
  static constexpr int64_t kNow = 1767225600;  // the fixture's clock, on an hour

  void SetUp() override {
    config_.backlog_pages = 4;
    config_.pages_per_second = 0.5;
    config_.stashes_per_page = 40;
    config_.missing_hours = {kNow - 3 * 3600};
    config_.skipped_hours = {kNow - 5 * 3600};
    PoeRoutes::SetStreamConfig(config_);
    StartSim(Unlimited());
  }
  void TearDown() override { PoeRoutes::SetStreamConfig(PoeStreamConfig{}); }

  nlohmann::json Page(const std::string& id) {
    return GetJson(id.empty() ? "/public-stash-tabs" : "/public-stash-tabs?id=" + id);
  }

  PoeStreamConfig config_;
};

TEST_F(SimPoeStreamTest, StreamFollowsChangeIdsToAnEmptyHeadAndGrowsWithTheClock) {
  std::string id;
  for (int page = 0; page < 4; ++page) {
    nlohmann::json body = Page(id);
    ASSERT_EQ(body["stashes"].size(), 40u) << "page " << page;
    EXPECT_EQ(body["next_change_id"], PoeRoutes::ChangeIdOf(page + 1));
    id = body["next_change_id"];
  }
  nlohmann::json head = Page(id);
  EXPECT_TRUE(head["stashes"].empty());
  EXPECT_EQ(head["next_change_id"], id) << "the head keeps the cursor";

  clock_.Advance(seconds(4));  // two more pages at 0.5 a second
  EXPECT_EQ(Page(id)["stashes"].size(), 40u);
  EXPECT_EQ(Page(PoeRoutes::ChangeIdOf(5))["stashes"].size(), 40u);
  EXPECT_TRUE(Page(PoeRoutes::ChangeIdOf(6))["stashes"].empty());
}

TEST_F(SimPoeStreamTest, ChangeIdsGrowOnEveryShardAndRoundTrip) {
  EXPECT_EQ(PoeRoutes::ChangeIdOf(0), "1000-2000-3000-4000-5000");
  EXPECT_EQ(PoeRoutes::ChangeIdOf(1), "1003-2005-3007-4002-5004");
  EXPECT_EQ(PoeRoutes::PageOf(PoeRoutes::ChangeIdOf(1234)), 1234);
  EXPECT_FALSE(PoeRoutes::PageOf("2107-3368-2939-3921-1210").has_value());
  EXPECT_FALSE(PoeRoutes::PageOf("1003-2005").has_value());
}

TEST_F(SimPoeStreamTest, PagesAreDeterministicAndShapedLikePoe) {
  const std::string id = PoeRoutes::ChangeIdOf(2);
  nlohmann::json a = Page(id), b = Page(id);
  EXPECT_EQ(a, b) << "the same id always answers the same page";
  EXPECT_NE(Page(id)["stashes"], GetJson("/public-stash-tabs/xbox?id=" + id)["stashes"])
      << "realms differ";

  std::set<std::string> ids, leagues;
  int priced = 0, private_stashes = 0, stacks = 0, items = 0;
  for (int page = 0; page < 4; ++page) {
    const nlohmann::json body = Page(page == 0 ? "" : PoeRoutes::ChangeIdOf(page));
    for (const auto& s : body["stashes"]) {
      ASSERT_TRUE(s["id"].is_string());
      EXPECT_EQ(s["id"].get<std::string>().size(), 64u);
      if (page == 2) {
        EXPECT_TRUE(ids.insert(s["id"].get<std::string>()).second) << "unique per page";
      }
      ASSERT_TRUE(s.contains("accountName") && s.contains("stashType") && s.contains("stash"));
      if (!s["public"].get<bool>()) {
        ++private_stashes;
        EXPECT_TRUE(s["league"].is_null());
        EXPECT_TRUE(s["items"].empty());
        continue;
      }
      leagues.insert(s["league"].get<std::string>());
      for (const auto& item : s["items"]) {
        ++items;
        for (const char* f : {"id", "typeLine", "baseType", "name", "frameType", "ilvl"}) {
          EXPECT_TRUE(item.contains(f)) << f;
        }
        if (item.contains("stackSize")) ++stacks;
        if (item.contains("note")) {
          ++priced;
          const std::string note = item["note"];
          EXPECT_TRUE(note.rfind("~price ", 0) == 0 || note.rfind("~b/o ", 0) == 0) << note;
          EXPECT_TRUE(note.find(" chaos") != std::string::npos ||
                      note.find(" divine") != std::string::npos)
              << note;
        }
      }
    }
  }
  EXPECT_GE(leagues.size(), 3u);
  EXPECT_TRUE(leagues.count("Settlers") && leagues.count("Hardcore Settlers"));
  EXPECT_GT(priced, 0);
  EXPECT_GT(stacks, 0);
  EXPECT_GT(items, priced) << "some items carry no price";
  EXPECT_GT(private_stashes, 0) << "5% of 160 stashes";
}

TEST_F(SimPoeStreamTest, ExchangeServesPastHoursWithMissingAndSkippedHours) {
  nlohmann::json hour = GetJson("/currency-exchange/" + std::to_string(kNow - 2 * 3600));
  EXPECT_EQ(hour["next_change_id"], kNow - 3600);
  ASSERT_FALSE(hour["markets"].empty());
  const auto& m = hour["markets"][0];
  EXPECT_EQ(m["league"], "Standard");
  EXPECT_EQ(m["market_id"], "chaos|divine");
  for (const char* f :
       {"volume_traded", "lowest_stock", "highest_stock", "lowest_ratio", "highest_ratio"}) {
    EXPECT_TRUE(m[f].is_object()) << f;
  }
  EXPECT_EQ(m["lowest_ratio"]["divine"], 1);
  EXPECT_GT(m["lowest_ratio"]["chaos"].get<double>(), 150);

  nlohmann::json missing = GetJson("/currency-exchange/" + std::to_string(kNow - 3 * 3600));
  EXPECT_TRUE(missing["markets"].empty());
  EXPECT_EQ(missing["next_change_id"], kNow - 2 * 3600);

  // The hour before a skipped hour points past it.
  nlohmann::json before = GetJson("/currency-exchange/" + std::to_string(kNow - 6 * 3600));
  EXPECT_FALSE(before["markets"].empty());
  EXPECT_EQ(before["next_change_id"], kNow - 4 * 3600);

  nlohmann::json current = GetJson("/currency-exchange/" + std::to_string(kNow));
  EXPECT_TRUE(current["markets"].empty());
  EXPECT_EQ(current["next_change_id"], kNow);
  EXPECT_EQ(GetJson("/currency-exchange/xbox/" + std::to_string(kNow - 3600))["next_change_id"],
            kNow);
}

}  // namespace
}  // namespace sluice::sim
