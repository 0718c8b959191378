// ESI's cache etiquette as the simulator judges it (sim/cache_etiquette.h):
// a request for a resource before the Expires announced to that client for
// that resource is counted, over real HTTP on a FakeClock.
#include <gtest/gtest.h>

#include "sim/cache_etiquette.h"
#include "sim_test_util.h"

namespace sluice::sim {
namespace {

using std::chrono::seconds;

class CacheEtiquetteTest : public testing::SimTest {
 protected:
  int64_t Early() { return StatsJson()["etiquette"]["requests_before_expires"].get<int64_t>(); }
};

TEST_F(CacheEtiquetteTest, ARequestBeforeTheAnnouncedExpiresIsCountedOneAfterIsNot) {
  SimConfig c = Unlimited();
  c.cache_list_seconds = 60;
  StartSim(c);
  auto first = Get("/alliances/");
  ASSERT_EQ(first->status, 200);
  ASSERT_FALSE(first->get_header_value("Expires").empty());
  EXPECT_EQ(Early(), 0);

  // Conditional or not, and under any version prefix: the same resource.
  clock_.Advance(seconds(59));
  EXPECT_EQ(Get("/alliances/", {{"If-None-Match", first->get_header_value("ETag")}})->status, 304);
  EXPECT_EQ(Get("/latest/alliances/")->status, 200);
  nlohmann::json s = StatsJson()["etiquette"];
  EXPECT_EQ(s["requests_before_expires"], 2);
  EXPECT_EQ(s["by_caller"]["ip:127.0.0.1"], 2);
  EXPECT_EQ(s["by_route"]["/alliances/"], 2);

  // The last answer (59 s in) announced a new Expires: 60 s after it.
  clock_.Advance(seconds(60));
  EXPECT_EQ(Get("/alliances/")->status, 200);
  EXPECT_EQ(Early(), 2);
}

TEST_F(CacheEtiquetteTest, EachClientAndEachResourceHasItsOwnExpires) {
  StartSim(Unlimited());
  auto list = Get("/alliances/");
  ASSERT_EQ(list->status, 200);
  const int64_t a = nlohmann::json::parse(list->body)[0];
  // Another resource, never announced to this client.
  EXPECT_EQ(Get("/alliances/" + std::to_string(a) + "/")->status, 200);
  // Another client (billed to the token's character): its own cache.
  EXPECT_EQ(Get("/alliances/", {{"Authorization", "Bearer sim-token"}})->status, 200);
  EXPECT_EQ(Early(), 0);
  // A page is a resource of its own.
  EXPECT_EQ(Get("/alliances/?page=1")->status, 200);
  EXPECT_EQ(Early(), 0);
  EXPECT_EQ(Get("/alliances/?page=1")->status, 200);
  EXPECT_EQ(Early(), 1);
}

TEST_F(CacheEtiquetteTest, ResettingStatsZeroesTheCountButKeepsWhatWasAnnounced) {
  StartSim(Unlimited());
  ASSERT_EQ(Get("/alliances/")->status, 200);
  ASSERT_EQ(Get("/alliances/")->status, 200);
  EXPECT_EQ(Early(), 1);
  ASSERT_EQ(Post("/sim/reset_stats", "")->status, 200);
  EXPECT_EQ(Early(), 0);
  ASSERT_EQ(Get("/alliances/")->status, 200);
  EXPECT_EQ(Early(), 1);
}

TEST(CacheEtiquetteUnitTest, ExpiresIsExclusiveAndPerClient) {
  CacheEtiquette e;
  const TimePoint t0 = FromUnixSeconds(1767225600);
  e.Announce("ip:a", "/x/", t0 + seconds(10), t0);
  EXPECT_TRUE(e.RecordRequest("ip:a", "/x/", "/x/", t0 + seconds(9)));
  EXPECT_FALSE(e.RecordRequest("ip:a", "/x/", "/x/", t0 + seconds(10)));
  EXPECT_FALSE(e.RecordRequest("ip:b", "/x/", "/x/", t0));
  EXPECT_EQ(e.ToJson()["tracked"], 1);
}

}  // namespace
}  // namespace sluice::sim
