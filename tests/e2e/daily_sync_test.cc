// End to end: a coordinator, two agents and the upstream simulator (with its
// ESI limits on) run the daily ESI sequence over real gRPC and real HTTP, and
// the database ends up holding exactly the simulator's universe, with zero
// limit violations. A second day turns known ETags into 304s, and no resource
// is asked for again before the Expires its last answer carried.
#include <gtest/gtest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "agent/agent_builder.h"
#include "server/coordinator.h"
#include "server/workflows/esi/daily_esi_job.h"
#include "sim/simulator.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

class DailySyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::SimConfig sc;
    sc.universe.alliances = 8;
    sc.universe.corporations = 40;
    sc.universe.characters = 240;
    // Tight enough that an unthrottled client would hit them, loose enough
    // for a quick test: 50 calls/s per group at 2 tokens a call.
    sc.esi_groups = {{"alliance", 600, 6}, {"corporation", 600, 6}, {"character", 600, 6}};
    // Short cache lifetimes, so a second day can follow the first: nothing
    // may be fetched again before its Expires.
    sc.cache_list_seconds = sc.cache_detail_seconds = sc.cache_members_seconds = kCacheSeconds;
    sim_ = std::make_unique<sim::Simulator>(sc);
    auto port = sim_->Start(0);
    ASSERT_TRUE(port.ok()) << port.status();

    CoordinatorOptions co;
    co.listen = "127.0.0.1:0";
    co.dsn = db_.dsn();
    co.db_pool_size = 6;
    co.scheduler.enabled = false;  // jobs run only when a test asks
    coordinator_ = std::make_unique<Coordinator>(co);
    ASSERT_TRUE(coordinator_->Start().ok());

    for (int i = 0; i < 2; ++i) {
      agent::AgentConfig ac;
      ac.coordinator = "127.0.0.1:" + std::to_string(coordinator_->port());
      ac.agent.agent_id = "e2e-agent-" + std::to_string(i);
      ac.agent.workers = 4;
      ac.handlers.esi_base_url = sim_->base_url();
      ac.handlers.esi_token = "sim-token";
      ac.contact = "e2e@sluice.invalid";
      auto built = agent::BuildAgent(ac);
      ASSERT_TRUE(built.ok()) << built.status();
      agents_.push_back(std::move(*built));
      ASSERT_TRUE(agents_.back()->Start().ok());
    }
  }

  void TearDown() override {
    for (auto& a : agents_) a->Stop();
    if (coordinator_) coordinator_->Shutdown(std::chrono::milliseconds(500));
    if (sim_) sim_->Stop();
  }

  // Runs the daily sequence and waits for the queue to drain.
  void RunDaily() {
    auto started = StartDailySequence(coordinator_->queue(), false, Priority::kBackground, "");
    ASSERT_TRUE(started.ok()) << started.status();
    int empty_polls = 0;
    for (int i = 0; i < 600 && empty_polls < 2; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      auto stats = coordinator_->queue()->Stats();
      ASSERT_TRUE(stats.ok()) << stats.status();
      int64_t pending = 0;
      for (const auto& k : *stats) pending += k.ready + k.leased + k.retrying;
      empty_polls = pending == 0 ? empty_polls + 1 : 0;
    }
    ASSERT_EQ(empty_polls, 2) << "the daily sequence did not finish in time";
  }

  nlohmann::json Get(const std::string& path) {
    httplib::Client client("127.0.0.1", sim_->port());
    client.set_default_headers({{"User-Agent", "e2e-test-verifier"}});
    auto res = client.Get(path.c_str());
    EXPECT_TRUE(res && res->status == 200) << path;
    return res ? nlohmann::json::parse(res->body, nullptr, false) : nlohmann::json();
  }

  int64_t RequestsBeforeExpires() {
    return sim_->Stats()["etiquette"]["requests_before_expires"].get<int64_t>();
  }

  static constexpr int kCacheSeconds = 4;
  TestDatabase db_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<Coordinator> coordinator_;
  std::vector<std::unique_ptr<agent::Agent>> agents_;
};

TEST_F(DailySyncTest, TwoAgentsSyncTheWholeUniverseWithoutViolations) {
  RunDaily();
  auto universe = sim_->Stats()["universe"];
  // Read before the spot checks below, which ask from the agents' address
  // for resources the agents have just fetched.
  const nlohmann::json etiquette = sim_->Stats()["etiquette"];
  EXPECT_EQ(etiquette["requests_before_expires"].get<int64_t>(), 0) << etiquette.dump();
  EXPECT_EQ(db_.Count("SELECT count(*) FROM alliance_static"),
            universe["alliances"]["count"].get<int64_t>());
  EXPECT_EQ(db_.Count("SELECT count(*) FROM corporation_static"),
            universe["corporations"]["count"].get<int64_t>());
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_static"),
            universe["characters"]["count"].get<int64_t>());
  EXPECT_EQ(db_.Count("SELECT count(*) FROM dead_tasks"), 0);

  // Spot-check stored rows against the upstream's own JSON.
  const std::string corp_id = db_.Query("SELECT min(corporation_id) FROM corporation_static");
  auto corp = Get("/corporations/" + corp_id + "/");
  EXPECT_EQ(db_.Query("SELECT name FROM corporation_static WHERE corporation_id = " + corp_id),
            corp["name"].get<std::string>());
  EXPECT_EQ(
      db_.Query("SELECT member_count FROM corporation_ephemeral WHERE corporation_id = " + corp_id),
      std::to_string(corp["member_count"].get<int64_t>()));
  EXPECT_EQ(db_.Query("SELECT ceo_id FROM corporation_ephemeral WHERE corporation_id = " + corp_id),
            std::to_string(corp["ceo_id"].get<int64_t>()));
  const std::string char_id = db_.Query("SELECT max(character_id) FROM character_static");
  auto ch = Get("/characters/" + char_id + "/");
  EXPECT_EQ(
      db_.Query("SELECT corporation_id FROM character_ephemeral WHERE character_id = " + char_id),
      std::to_string(ch["corporation_id"].get<int64_t>()));

  auto stats = sim_->Stats();
  EXPECT_EQ(stats["violations"]["total"].get<int64_t>(), 0) << stats["violations"].dump();
  EXPECT_EQ(stats["requests_without_user_agent"].get<int64_t>(), 0);
  EXPECT_EQ(stats["errors"].get<int64_t>(), 0) << stats["responses_by_status"].dump();
}

TEST_F(DailySyncTest, SecondDayRevalidatesWithEtagsAndGets304s) {
  RunDaily();
  const int64_t before = sim_->Stats()["not_modified"].get<int64_t>();
  const std::string names =
      db_.Query("SELECT string_agg(name, ',' ORDER BY alliance_id) FROM alliance_static");
  RunDaily();
  auto stats = sim_->Stats();
  const int64_t alliances = stats["universe"]["alliances"]["count"].get<int64_t>();
  // Every alliance detail and alliance corporation list is revalidated.
  EXPECT_GE(stats["not_modified"].get<int64_t>() - before, 2 * alliances);
  EXPECT_EQ(db_.Query("SELECT string_agg(name, ',' ORDER BY alliance_id) FROM alliance_static"),
            names);
  EXPECT_EQ(stats["violations"]["total"].get<int64_t>(), 0);
  // Day 2 began at once: whatever day 1 fetched last waited for its Expires.
  EXPECT_EQ(RequestsBeforeExpires(), 0) << stats["etiquette"].dump();
}

TEST_F(DailySyncTest, AUserRequestForAFreshEntityMakesNoUpstreamCall) {
  RunDaily();
  const std::string corp = db_.Query("SELECT min(corporation_id) FROM corporation_static");
  const int64_t id = std::stoll(corp);
  // Inside its Expires (seconds ago at most): answered from the database.
  ASSERT_EQ(db_.Query("UPDATE entity_cache SET expires_at = now() + interval '1 hour' "
                      "WHERE kind = 'corporation' AND entity_id = " +
                      corp + " RETURNING 1"),
            "1");
  const int64_t before = sim_->Stats()["requests_total"].get<int64_t>();
  auto asked = coordinator_->queue()->Enqueue("corporation", {id}, Priority::kUser);
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_EQ(asked->answered_from_database, 1);
  EXPECT_EQ(asked->enqueued, 0);
  std::this_thread::sleep_for(seconds(1));
  EXPECT_EQ(sim_->Stats()["requests_total"].get<int64_t>(), before);
  EXPECT_EQ(db_.Query("SELECT access_count FROM corporation_static WHERE corporation_id = " + corp),
            "1");
  EXPECT_EQ(RequestsBeforeExpires(), 0);
}

}  // namespace
}  // namespace sluice::testing
