// The simulator's killmail routes over real HTTP: authentication with
// simulator-issued character tokens, paging newest first with X-Pages, ESI's
// body shape, hashes, added killmails and growth over (fake) time.
#include <cstdlib>
#include <set>

#include "common/http_date.h"
#include "sim/killmail_routes.h"
#include "tests/sim/sim_test_util.h"

namespace sluice::sim::testing {
namespace {

class KillmailRoutesTest : public SimTest {
 protected:
  void SetUp() override {
    setenv("SIM_KILLMAIL_GROWTH_PERIOD_S", "3600", 1);
    StartSim(Unlimited());
    // A character with several pages of history.
    character_ = FirstCharacter();
    ASSERT_GT(character_, 0);
    auto added =
        Post("/sim/killmails?character_id=" + std::to_string(character_) + "&count=130", "");
    ASSERT_TRUE(added);
    ASSERT_EQ(added->status, 200) << added->body;
  }

  int64_t FirstCharacter() {
    const Universe* u = sim_->universe();
    int64_t best = 0;
    for (int64_t a : u->AllianceIds()) {
      const std::vector<int64_t> corps = u->AllianceCorporations(a).value();
      for (int64_t c : corps) {
        const std::vector<int64_t> members = u->CorporationMembers(c).value();
        for (int64_t ch : members) {
          if (best == 0 || ch < best) best = ch;
        }
      }
    }
    return best;
  }

  std::string Token(int64_t character) {
    auto r = Post("/sim/tokens?character_id=" + std::to_string(character), "");
    EXPECT_TRUE(r && r->status == 200);
    auto j = nlohmann::json::parse(r->body);
    EXPECT_EQ(j["character_id"].get<int64_t>(), character);
    EXPECT_FALSE(j["expires_at"].get<std::string>().empty());
    return j["access_token"].get<std::string>();
  }

  std::string RecentPath(int64_t character, int page) {
    return "/characters/" + std::to_string(character) +
           "/killmails/recent/?page=" + std::to_string(page);
  }

  int64_t Total(int64_t character) {
    return GetJson("/sim/killmails?character_id=" + std::to_string(character))["total"]
        .get<int64_t>();
  }

  int64_t character_ = 0;
};

TEST_F(KillmailRoutesTest, RecentKillmailsRequireTheCharactersOwnToken) {
  const std::string token = Token(character_);
  auto none = Get(RecentPath(character_, 1));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  auto bogus = Get(RecentPath(character_, 1), {{"Authorization", "Bearer not-a-sim-token"}});
  EXPECT_EQ(bogus->status, 401);
  EXPECT_NE(bogus->body.find("error"), std::string::npos);

  // A token issued for another character is forbidden here.
  const int64_t other = GetJson("/sim/stats")["universe"]["characters"]["last"].get<int64_t>();
  const std::string other_token = Token(other);
  auto forbidden = Get(RecentPath(character_, 1), {{"Authorization", "Bearer " + other_token}});
  EXPECT_EQ(forbidden->status, 403);

  auto ok = Get(RecentPath(character_, 1), {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(ok->status, 200) << ok->body;

  // Expired tokens are refused.
  clock_.Advance(std::chrono::hours(25));
  auto expired = Get(RecentPath(character_, 1), {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(expired->status, 401);
}

TEST_F(KillmailRoutesTest, PagesAreNewestFirstWithXPages) {
  const std::string token = Token(character_);
  const int64_t total = Total(character_);
  ASSERT_GT(total, 100);
  const int64_t pages = (total + 49) / 50;
  std::vector<int64_t> all;
  std::string last_modified;
  for (int page = 1; page <= pages; ++page) {
    auto r = Get(RecentPath(character_, page), {{"Authorization", "Bearer " + token}});
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("X-Pages"), std::to_string(pages));
    if (page == 1) last_modified = r->get_header_value("Last-Modified");
    EXPECT_EQ(r->get_header_value("Last-Modified"), last_modified) << "page " << page;
    auto body = nlohmann::json::parse(r->body);
    ASSERT_TRUE(body.is_array());
    EXPECT_EQ(static_cast<int64_t>(body.size()), page < pages ? 50 : total - 50 * (pages - 1));
    for (const auto& ref : body) {
      ASSERT_TRUE(ref["killmail_id"].is_number_integer());
      ASSERT_EQ(ref["killmail_hash"].get<std::string>().size(), 40u);
      all.push_back(ref["killmail_id"].get<int64_t>());
    }
  }
  ASSERT_EQ(static_cast<int64_t>(all.size()), total);
  for (size_t i = 1; i < all.size(); ++i)
    EXPECT_GT(all[i - 1], all[i]) << "not newest first at " << i;

  // New killmails get higher ids and land on page 1, once the cached list
  // has expired: until then every page is the version already served.
  auto added = Post("/sim/killmails?character_id=" + std::to_string(character_) + "&count=3", "");
  ASSERT_EQ(added->status, 200);
  auto cached = Get(RecentPath(character_, 1), {{"Authorization", "Bearer " + token}});
  EXPECT_EQ(cached->get_header_value("Last-Modified"), last_modified);
  EXPECT_EQ(nlohmann::json::parse(cached->body)[0]["killmail_id"].get<int64_t>(), all[0]);
  clock_.Advance(std::chrono::seconds(300));
  auto fresh = Get(RecentPath(character_, 1), {{"Authorization", "Bearer " + token}});
  EXPECT_NE(fresh->get_header_value("Last-Modified"), last_modified);
  auto first = nlohmann::json::parse(fresh->body);
  EXPECT_GT(first[2]["killmail_id"].get<int64_t>(), all[0]);
  EXPECT_EQ(first[3]["killmail_id"].get<int64_t>(), all[0]);
}

TEST_F(KillmailRoutesTest, EveryPageOfOneCachedVersionCarriesTheSameExpires) {
  // ESI caches the list once for everyone asking: a page asked for later in
  // the same cache window expires with the first, not 300 s after itself.
  const std::string token = Token(character_);
  auto page1 = Get(RecentPath(character_, 1), {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(page1->status, 200);
  clock_.Advance(std::chrono::seconds(100));
  auto page2 = Get(RecentPath(character_, 2), {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(page2->status, 200);
  EXPECT_EQ(page2->get_header_value("Expires"), page1->get_header_value("Expires"));
  EXPECT_EQ(page2->get_header_value("Last-Modified"), page1->get_header_value("Last-Modified"));
  const auto built = ParseHttpDate(page1->get_header_value("Last-Modified"));
  const auto expires = ParseHttpDate(page1->get_header_value("Expires"));
  ASSERT_TRUE(built && expires);
  EXPECT_EQ(*expires - *built, std::chrono::seconds(300));  // ESI's cache for this route
}

TEST_F(KillmailRoutesTest, KillmailBodyHasEsiShapeAndNeedsTheRightHash) {
  const std::string token = Token(character_);
  auto refs = nlohmann::json::parse(
      Get(RecentPath(character_, 1), {{"Authorization", "Bearer " + token}})->body);
  const int64_t id = refs[0]["killmail_id"].get<int64_t>();
  const std::string hash = refs[0]["killmail_hash"].get<std::string>();
  auto body = GetJson("/killmails/" + std::to_string(id) + "/" + hash + "/");
  EXPECT_EQ(body["killmail_id"].get<int64_t>(), id);
  EXPECT_TRUE(body["killmail_time"].is_string());
  EXPECT_TRUE(body["solar_system_id"].is_number_integer());
  const auto& victim = body["victim"];
  EXPECT_TRUE(victim["ship_type_id"].is_number_integer());
  EXPECT_TRUE(victim["damage_taken"].is_number_integer());
  ASSERT_TRUE(body["attackers"].is_array());
  ASSERT_FALSE(body["attackers"].empty());
  std::set<int64_t> ships(std::begin(kShipTypeIds), std::end(kShipTypeIds));
  EXPECT_TRUE(ships.count(victim["ship_type_id"].get<int64_t>()));
  bool owner_named = victim["character_id"].get<int64_t>() == character_;
  int final_blows = 0;
  for (const auto& a : body["attackers"]) {
    EXPECT_TRUE(a["final_blow"].is_boolean());
    EXPECT_TRUE(a["damage_done"].is_number_integer());
    final_blows += a["final_blow"].get<bool>() ? 1 : 0;
    if (a["character_id"].get<int64_t>() == character_) owner_named = true;
    // Every participant is a universe character (discovery terminates).
    EXPECT_TRUE(sim_->universe()->FindCharacter(a["character_id"].get<int64_t>()).has_value());
    EXPECT_TRUE(a["corporation_id"].is_number_integer());
  }
  EXPECT_EQ(final_blows, 1);
  EXPECT_TRUE(owner_named) << "the character's own killmail does not name it: " << body.dump();

  auto wrong = Get("/killmails/" + std::to_string(id) + "/" + std::string(40, '0') + "/");
  EXPECT_EQ(wrong->status, 404);
  auto unknown = Get("/killmails/" + std::to_string(id + kIdStride * 100000) + "/" + hash + "/");
  EXPECT_EQ(unknown->status, 404);
  // Public route: no token needed, and the path is counted by its template.
  EXPECT_EQ(
      StatsJson()["requests_by_route"]["/killmails/{killmail_id}/{killmail_hash}/"].get<int64_t>(),
      3);
}

TEST_F(KillmailRoutesTest, HistoryGrowsWithTheClock) {
  // One own killmail per period, plus the partner's shared ones (every
  // fourth of its sequence) that land in this character's list too.
  const int64_t before = Total(character_);
  EXPECT_EQ(Total(character_), before) << "no growth without time";
  clock_.Advance(std::chrono::hours(8));
  const int64_t grown = Total(character_) - before;
  EXPECT_GE(grown, 8);
  EXPECT_LE(grown, 8 + 3);
}

TEST_F(KillmailRoutesTest, ControlRoutesRejectBadInput) {
  EXPECT_EQ(Post("/sim/tokens", "")->status, 400);
  EXPECT_EQ(Post("/sim/tokens?character_id=1", "")->status, 404);
  EXPECT_EQ(
      Post("/sim/killmails?character_id=" + std::to_string(character_) + "&count=0", "")->status,
      400);
  auto batch = Post("/sim/tokens?count=3", "");
  ASSERT_EQ(batch->status, 200);
  EXPECT_EQ(nlohmann::json::parse(batch->body).size(), 3u);
}

}  // namespace
}  // namespace sluice::sim::testing
