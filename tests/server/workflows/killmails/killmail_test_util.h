// Fixture for the killmail workflow tests: a throwaway database, an
// in-process coordinator (periodic jobs off), the simulator on loopback with
// its killmail routes (no growth: its clock never moves) and, when a test
// asks, an agent. Helpers issue simulator tokens, register them through the
// coordinator's KillmailAdminService, and wait for the queue to drain.
#ifndef SLUICE_TESTS_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_TEST_UTIL_H_
#define SLUICE_TESTS_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_TEST_UTIL_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "agent/agent_builder.h"
#include "common/time_util.h"
#include "server/coordinator.h"
#include "sim/simulator.h"
#include "sluice/v1/killmails.grpc.pb.h"
#include "tests/support/test_database.h"

namespace sluice::testing {

inline constexpr char kRecentRoute[] = "/characters/{character_id}/killmails/recent/";
inline constexpr char kBodyRoute[] = "/killmails/{killmail_id}/{killmail_hash}/";

class KillmailFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    setenv("SIM_KILLMAIL_GROWTH_PERIOD_S", "0", 1);
    sim::SimConfig sc;
    sc.threads = 8;
    sc.universe.alliances = 6;
    sc.universe.corporations = 24;
    sc.universe.characters = 120;
    // Learned by the throttler from headers; generous so tests are quick.
    sc.esi_groups = {
        {"alliance", 100000, 60}, {"corporation", 100000, 60}, {"character", 100000, 60}};
    // Long enough that one read's pages come from one cached version (a read
    // across a rebuild is read again, which would change the page counts the
    // tests check), short enough that a next sync, which the coordinator
    // holds until the list's Expires, waits only seconds (ESI: 300 s).
    sc.cache_killmail_recent_seconds = 4;
    AdjustSimConfig(sc);
    sim_ = std::make_unique<sim::Simulator>(sc, SimClock());
    auto port = sim_->Start(0);
    ASSERT_TRUE(port.ok()) << port.status();

    CoordinatorOptions co = CoordinatorOptionsForTest();
    coordinator_ = std::make_unique<Coordinator>(co);
    ASSERT_TRUE(coordinator_->Start().ok());
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(coordinator_->port()),
                                   grpc::InsecureChannelCredentials());
    tokens_ = v1::KillmailAdminService::NewStub(channel_);

    const sim::Universe* u = sim_->universe();
    for (int64_t a : u->AllianceIds()) {
      const std::vector<int64_t> corps = u->AllianceCorporations(a).value();
      for (int64_t c : corps) {
        const std::vector<int64_t> members = u->CorporationMembers(c).value();
        characters_.insert(characters_.end(), members.begin(), members.end());
      }
    }
    std::sort(characters_.begin(), characters_.end());
  }

  static std::shared_ptr<const SecretBox> TestTokenBox(uint8_t fill = 0x4b) {
    SecretBox::Key key;
    key.fill(fill);
    return std::make_shared<const SecretBox>(key, std::nullopt);
  }

  // Hooks for fixtures whose simulator differs (its SSO's token lifetime,
  // its lists' cache lifetime).
  virtual void AdjustSimConfig(sim::SimConfig& sc) { (void)sc; }
  // The coordinator holds a character's next read until the Expires its
  // list came with, on its own clock: the simulator runs on the same one, so
  // that Expires is also what it counts early requests against.
  virtual const Clock* SimClock() { return SystemClock::Get(); }

  virtual CoordinatorOptions CoordinatorOptionsForTest() {
    CoordinatorOptions co;
    co.listen = "127.0.0.1:0";
    co.dsn = db_.dsn();
    co.db_pool_size = 6;
    co.scheduler.enabled = false;
    co.queue.retry.backoff_base = std::chrono::milliseconds(50);
    co.queue.retry.backoff_max = std::chrono::milliseconds(200);
    // Tokens are stored sealed under the coordinator's key.
    co.workflows.killmails.token_box = TestTokenBox();
    return co;
  }

  void TearDown() override {
    for (auto& a : agents_) a->Stop();
    if (coordinator_) coordinator_->Shutdown(std::chrono::milliseconds(500));
    if (sim_) sim_->Stop();
  }

  void StartAgent() {
    agent::AgentConfig ac;
    ac.coordinator = "127.0.0.1:" + std::to_string(coordinator_->port());
    ac.agent.agent_id = "km-agent-" + std::to_string(agents_.size());
    ac.agent.workers = 4;
    ac.agent.lease_wait = std::chrono::milliseconds(200);
    ac.agent.lease_duration = std::chrono::seconds(10);
    ac.handlers.esi_base_url = sim_->base_url();
    ac.contact = "killmail-test@sluice.invalid";
    auto built = agent::BuildAgent(ac);
    ASSERT_TRUE(built.ok()) << built.status();
    agents_.push_back(std::move(*built));
    ASSERT_TRUE(agents_.back()->Start().ok());
  }

  httplib::Result SimPost(const std::string& path) {
    httplib::Client client("127.0.0.1", sim_->port());
    return client.Post(path.c_str(), httplib::Headers{{"User-Agent", "killmail-test"}}, "",
                       "application/json");
  }

  nlohmann::json SimGet(const std::string& path) {
    httplib::Client client("127.0.0.1", sim_->port());
    auto r = client.Get(path.c_str(), httplib::Headers{{"User-Agent", "killmail-test"}});
    EXPECT_TRUE(r && r->status == 200) << path;
    return r ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
  }

  // The simulator's token for the character, registered with the coordinator.
  void GiveToken(int64_t character) {
    auto r = SimPost("/sim/tokens?character_id=" + std::to_string(character));
    ASSERT_TRUE(r && r->status == 200);
    const std::string token = nlohmann::json::parse(r->body)["access_token"].get<std::string>();
    grpc::Status s =
        Register(character, token, std::chrono::system_clock::now() + std::chrono::hours(1));
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  grpc::Status Register(int64_t character, const std::string& token, TimePoint expires,
                        bool with_expiry = true) {
    v1::RegisterCharacterTokenRequest req;
    req.set_character_id(character);
    req.set_access_token(token);
    if (with_expiry) *req.mutable_expires_at() = ToProto(expires);
    v1::RegisterCharacterTokenResponse resp;
    grpc::ClientContext ctx;
    return tokens_->RegisterCharacterToken(&ctx, req, &resp);
  }

  // Total killmails in the character's list; adds some first if asked.
  int64_t SimTotal(int64_t character) {
    return SimGet("/sim/killmails?character_id=" + std::to_string(character))["total"]
        .get<int64_t>();
  }
  void SimAdd(int64_t character, int count) {
    auto r = SimPost("/sim/killmails?character_id=" + std::to_string(character) +
                     "&count=" + std::to_string(count));
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
  }
  int64_t SimNewest(int64_t character) {
    return SimGet("/sim/killmails?character_id=" + std::to_string(character))["newest_killmail_id"]
        .get<int64_t>();
  }

  int64_t RouteCount(const std::string& route) {
    auto stats = sim_->Stats();
    const auto& by_route = stats["requests_by_route"];
    return by_route.contains(route) ? by_route[route].get<int64_t>() : 0;
  }

  // Waits until nothing is ready, leased or retrying.
  void Drain(std::chrono::seconds timeout = std::chrono::seconds(120)) {
    int empty_polls = 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (empty_polls < 2 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto stats = coordinator_->queue()->Stats();
      ASSERT_TRUE(stats.ok()) << stats.status();
      int64_t pending = 0;
      for (const auto& k : *stats) pending += k.ready + k.leased + k.retrying;
      empty_polls = pending == 0 ? empty_polls + 1 : 0;
    }
    ASSERT_EQ(empty_polls, 2) << "the queue did not drain in time";
  }

  void EnqueueSync(const std::vector<int64_t>& characters, Priority priority = Priority::kManual) {
    auto out = coordinator_->queue()->Enqueue("character_killmails", characters, priority);
    ASSERT_TRUE(out.ok()) << out.status();
  }

  TestDatabase db_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<Coordinator> coordinator_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::KillmailAdminService::Stub> tokens_;
  std::vector<std::unique_ptr<agent::Agent>> agents_;
  std::vector<int64_t> characters_;  // the simulator's, ascending (its index order)
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_TEST_UTIL_H_
