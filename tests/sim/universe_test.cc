#include "sim/universe.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>

#include "sim_test_util.h"

namespace sluice::sim {
namespace {

using testing::SimTest;

TimePoint T0() { return FromUnixSeconds(1767225600); }

TEST(SimUniverseTest, SmallIsConsistent) {
  auto u = Universe::Generate(SmallUniverse(7), T0());
  ASSERT_TRUE(u.ok()) << u.status();
  std::vector<int64_t> alliances = (*u)->AllianceIds();
  ASSERT_EQ(alliances.size(), 40u);
  int corporations = 0, characters = 0;
  for (int64_t a : alliances) {
    EXPECT_GE(a, 99000000);
    EXPECT_FALSE((*u)->FindAlliance(a + 1)) << "ids must be spread";
    std::optional<AllianceInfo> info = (*u)->FindAlliance(a);
    ASSERT_TRUE(info);
    std::vector<int64_t> corps = *(*u)->AllianceCorporations(a);
    ASSERT_FALSE(corps.empty());
    EXPECT_NE(std::find(corps.begin(), corps.end(), info->executor_corporation_id), corps.end());
    EXPECT_NE(std::find(corps.begin(), corps.end(), info->creator_corporation_id), corps.end());
    for (int64_t c : corps) {
      ++corporations;
      std::optional<CorporationInfo> corp = (*u)->FindCorporation(c);
      ASSERT_TRUE(corp);
      EXPECT_GE(c, 98000000);
      EXPECT_EQ(corp->alliance_id, a);
      EXPECT_GE(corp->tax_rate, 0.0);
      EXPECT_LE(corp->tax_rate, 1.0);
      std::vector<int64_t> members = *(*u)->CorporationMembers(c);
      EXPECT_EQ(corp->member_count, static_cast<int>(members.size()));
      EXPECT_NE(std::find(members.begin(), members.end(), corp->ceo_id), members.end());
      for (int64_t m : members) {
        ++characters;
        std::optional<CharacterInfo> ch = (*u)->FindCharacter(m);
        ASSERT_TRUE(ch);
        EXPECT_GE(m, 2112000000);
        EXPECT_EQ(ch->corporation_id, c);
        EXPECT_EQ(ch->alliance_id, a);
      }
    }
  }
  EXPECT_EQ(corporations, 200);
  EXPECT_EQ(characters, 1000);
}

TEST(SimUniverseTest, SizesAreSkewed) {
  auto u = Universe::Generate(FullUniverse(1), T0());
  ASSERT_TRUE(u.ok());
  size_t largest = 0, singles = 0;
  for (int64_t a : (*u)->AllianceIds()) {
    size_t n = (*u)->AllianceCorporations(a)->size();
    largest = std::max(largest, n);
    if (n == 1) ++singles;
  }
  EXPECT_GT(largest, 100u);
  EXPECT_GT(singles, 500u);
}

TEST(SimUniverseTest, IndependentCorporationsHaveNoAlliance) {
  UniverseConfig c = SmallUniverse(3);
  c.independent_corporations = 20;
  c.characters = 1100;
  auto u = Universe::Generate(c, T0());
  ASSERT_TRUE(u.ok());
  std::set<int64_t> in_alliances;
  for (int64_t a : (*u)->AllianceIds()) {
    std::vector<int64_t> corps = *(*u)->AllianceCorporations(a);
    in_alliances.insert(corps.begin(), corps.end());
  }
  EXPECT_EQ(in_alliances.size(), 200u);
  nlohmann::json summary = (*u)->Summary();
  EXPECT_EQ(summary["corporations"]["count"], 220);
}

// The brief: full must generate in under 2 s and fit well within 128 MB.
TEST(SimUniverseTest, FullIsFastAndSmall) {
  auto start = std::chrono::steady_clock::now();
  auto u = Universe::Generate(FullUniverse(1), T0());
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(u.ok());
  EXPECT_LT(elapsed, std::chrono::seconds(2));
  nlohmann::json s = (*u)->Summary();
  EXPECT_EQ(s["alliances"]["count"], 3547);
  EXPECT_EQ(s["corporations"]["count"], 17769);
  EXPECT_EQ(s["characters"]["count"], 93000);
  EXPECT_LT(s["characters"]["last"].get<int64_t>(), 2147483647);

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizer shadow memory makes RSS meaningless";
#endif
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      long kb = std::stol(line.substr(6));
      EXPECT_LT(kb, 96 * 1024) << line;
    }
  }
}

TEST(SimUniverseTest, MutateChangesNameNotMembership) {
  auto u = Universe::Generate(SmallUniverse(1), T0());
  ASSERT_TRUE(u.ok());
  int64_t a = (*u)->AllianceIds()[0];
  int64_t corp = (*(*u)->AllianceCorporations(a))[0];
  CorporationInfo before = *(*u)->FindCorporation(corp);
  ASSERT_TRUE((*u)->Mutate(EntityKind::kCorporation, corp, T0() + std::chrono::hours(1)).ok());
  CorporationInfo after = *(*u)->FindCorporation(corp);
  EXPECT_NE(before.name, after.name);
  EXPECT_EQ(before.member_count, after.member_count);
  EXPECT_EQ(before.ceo_id, after.ceo_id);
  EXPECT_EQ(after.last_modified, T0() + std::chrono::hours(1));
  EXPECT_TRUE(absl::IsNotFound((*u)->Mutate(EntityKind::kCorporation, corp + 1, T0())));
}

class SimUniverseHttpTest : public SimTest {};

// Same seed, same bytes: everything a client can see is a function of the seed.
TEST_F(SimUniverseHttpTest, SameSeedSameJson) {
  SimConfig config = Unlimited();
  config.universe.seed = 42;
  StartSim(config);
  FakeClock other_clock(clock_.Now());
  Simulator other(config, &other_clock);
  absl::StatusOr<int> port = other.Start(0);
  ASSERT_TRUE(port.ok());
  httplib::Client other_client("127.0.0.1", *port);

  std::vector<std::string> paths = {"/alliances/"};
  nlohmann::json alliances = GetJson("/alliances/");
  for (int i = 0; i < 3; ++i) {
    int64_t a = alliances[i];
    paths.push_back("/alliances/" + std::to_string(a) + "/");
    paths.push_back("/alliances/" + std::to_string(a) + "/corporations/");
    int64_t corp = GetJson(paths.back())[0];
    paths.push_back("/corporations/" + std::to_string(corp) + "/");
    int64_t ceo = GetJson(paths.back())["ceo_id"];
    paths.push_back("/characters/" + std::to_string(ceo) + "/");
  }
  for (const std::string& p : paths) {
    auto mine = Get(p);
    auto theirs = other_client.Get(p.c_str());
    ASSERT_TRUE(mine && theirs);
    EXPECT_EQ(mine->status, 200) << p;
    EXPECT_EQ(mine->body, theirs->body) << p;
    EXPECT_EQ(mine->get_header_value("ETag"), theirs->get_header_value("ETag")) << p;
  }

  SimConfig different = config;
  different.universe.seed = 43;
  Simulator third(different, &other_clock);
  ASSERT_TRUE(third.Start(0).ok());
  httplib::Client third_client("127.0.0.1", third.port());
  EXPECT_NE(third_client.Get("/alliances/")->body, Get("/alliances/")->body);
}

TEST_F(SimUniverseHttpTest, ShapesFollowEsi) {
  StartSim(Unlimited());
  nlohmann::json alliances = GetJson("/alliances/");
  ASSERT_TRUE(alliances.is_array());
  ASSERT_EQ(alliances.size(), 40u);
  int64_t a = alliances[0];
  nlohmann::json alliance = GetJson("/alliances/" + std::to_string(a) + "/");
  for (const char* f : {"name", "ticker", "creator_id", "creator_corporation_id",
                        "executor_corporation_id", "date_founded"}) {
    EXPECT_TRUE(alliance.contains(f)) << f;
  }
  EXPECT_EQ(alliance["date_founded"].get<std::string>().size(), 20u);  // 2010-11-04T13:11:00Z
  int64_t corp_id = alliance["executor_corporation_id"];
  nlohmann::json corp = GetJson("/corporations/" + std::to_string(corp_id) + "/");
  for (const char* f : {"name", "ticker", "member_count", "ceo_id", "creator_id", "alliance_id",
                        "tax_rate", "date_founded", "description", "url"}) {
    EXPECT_TRUE(corp.contains(f)) << f;
  }
  EXPECT_EQ(corp["alliance_id"], a);
  nlohmann::json ch = GetJson("/characters/" + std::to_string(corp["ceo_id"].get<int64_t>()) + "/");
  for (const char* f : {"name", "birthday", "gender", "race_id", "bloodline_id", "corporation_id",
                        "alliance_id", "security_status", "description"}) {
    EXPECT_TRUE(ch.contains(f)) << f;
  }
  EXPECT_EQ(ch["corporation_id"], corp_id);
  EXPECT_TRUE(ch["gender"] == "male" || ch["gender"] == "female");
}

}  // namespace
}  // namespace sluice::sim
