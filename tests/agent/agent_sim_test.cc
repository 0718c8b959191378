// A whole agent as production wires it (BuildAgent: gRPC to the coordinator,
// CoordinatorRateGate, libcurl) against fake coordinator services and the
// real upstream simulator: the daily ESI sequence end to end.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/agent_builder.h"
#include "agent/handlers/all_handlers.h"
#include "sim/simulator.h"
#include "tests/agent/fakes.h"

namespace sluice::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::Contains;
using testing::FakeAgentService;
using testing::FakeThrottler;
using testing::GrpcTestServer;
using testing::InMemoryQueue;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::WaitFor;

constexpr char kSimToken[] = "sim-token";

class AgentSimTest : public ::testing::Test {
 protected:
  AgentSimTest()
      : throttler_(SystemClock::Get()),
        agent_service_(&queue_),
        coordinator_({&agent_service_, &throttler_}) {}

  void SetUp() override {
    sim::SimConfig config;
    config.universe.seed = 11;
    config.universe.alliances = 5;
    config.universe.corporations = 20;
    config.universe.characters = 100;
    config.universe.independent_corporations = 2;
    config.auth_token = kSimToken;
    // This test is about the agent's data flow, not the upstream's limits.
    config.esi_groups = {
        {"alliance", 100000, 60}, {"corporation", 100000, 60}, {"character", 100000, 60}};
    sim_ = std::make_unique<sim::Simulator>(config);
    ASSERT_TRUE(sim_->Start(0).ok());
  }

  void TearDown() override {
    if (agent_) agent_->Stop();
    throttler_.Stop();
  }

  AgentConfig Config(const std::string& esi_token) {
    AgentConfig c;
    c.coordinator = coordinator_.address();
    c.contact = "ops@example.org";
    c.handlers.esi_base_url = sim_->base_url();
    c.handlers.esi_token = esi_token;
    c.agent.agent_id = "sim-agent";
    c.agent.workers = 4;
    c.agent.lease_wait = milliseconds(200);
    return c;
  }

  void RunUntilIdle(AgentConfig config) {
    auto agent = BuildAgent(std::move(config));
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = std::move(*agent);
    ASSERT_TRUE(agent_->Start().ok());
    ASSERT_TRUE(queue_.WaitIdle(seconds(60))) << queue_.pending() << " tasks left";
    agent_->Stop();
  }

  std::set<int64_t> Completed(const std::string& kind) const {
    std::set<int64_t> ids;
    for (const auto& [k, id] : queue_.completed()) {
      if (k == kind) ids.insert(id);
    }
    return ids;
  }

  const sim::Universe& U() const { return *sim_->universe(); }

  std::set<int64_t> AllianceCorporations() const {
    std::set<int64_t> ids;
    for (int64_t a : U().AllianceIds()) {
      // Held in a local: a range-for over *temporary-optional dangles.
      std::vector<int64_t> corps = U().AllianceCorporations(a).value();
      ids.insert(corps.begin(), corps.end());
    }
    return ids;
  }

  InMemoryQueue queue_;
  FakeThrottler throttler_;
  FakeAgentService agent_service_;
  GrpcTestServer coordinator_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentSimTest, DailySequenceWithEsiTokenFetchesEveryAllianceCorporationAndCharacter) {
  queue_.Enqueue("alliance_ids", {0});
  RunUntilIdle(Config(kSimToken));

  EXPECT_THAT(queue_.dead(), IsEmpty());
  std::vector<int64_t> alliances = U().AllianceIds();
  EXPECT_EQ(Completed("alliance"), std::set<int64_t>(alliances.begin(), alliances.end()));
  EXPECT_EQ(Completed("alliance_corporations"),
            std::set<int64_t>(alliances.begin(), alliances.end()));
  std::set<int64_t> corps = AllianceCorporations();
  EXPECT_EQ(Completed("corporation"), corps);
  EXPECT_EQ(Completed("corporation_members"), corps);
  std::set<int64_t> members;
  for (int64_t c : corps) {
    std::vector<int64_t> of_corp = U().CorporationMembers(c).value();
    members.insert(of_corp.begin(), of_corp.end());
  }
  EXPECT_EQ(Completed("character"), members);
  EXPECT_EQ(queue_.records("character").size(), members.size());

  nlohmann::json stats = sim_->Stats();
  const int64_t upstream_requests = stats["requests_total"];
  EXPECT_EQ(agent_->stats().upstream_requests, upstream_requests);
  EXPECT_EQ(stats["requests_without_user_agent"], 0);
  // Every upstream call was paid for with a leased token, and every token
  // not spent went back to the throttler.
  EXPECT_EQ(throttler_.granted_total(), upstream_requests + throttler_.returned());
  EXPECT_EQ(static_cast<int64_t>(throttler_.observations().size()), upstream_requests);
}

TEST_F(AgentSimTest, WithoutEsiTokenCharactersComeFromCorporationLeadersOnly) {
  queue_.Enqueue("alliance_ids", {0});
  RunUntilIdle(Config(""));

  EXPECT_THAT(agent_->kinds(), Not(Contains("corporation_members")));
  EXPECT_THAT(queue_.dead(), IsEmpty());
  std::set<int64_t> leaders;
  for (int64_t c : AllianceCorporations()) {
    auto info = *U().FindCorporation(c);
    leaders.insert(info.ceo_id);
    leaders.insert(info.creator_id);
  }
  EXPECT_EQ(Completed("character"), leaders);
  EXPECT_THAT(Completed("corporation_members"), IsEmpty());
}

TEST_F(AgentSimTest, MissingCorporationIsFoundFromACharacter) {
  // An independent corporation: in no alliance, so the daily sequence never
  // reaches it; one of its members is queued on demand.
  int64_t independent = 0;
  nlohmann::json summary = U().Summary();
  for (int64_t id = summary["corporations"]["first"]; id <= summary["corporations"]["last"]; ++id) {
    auto info = U().FindCorporation(id);
    if (info && info->alliance_id == 0) {
      independent = id;
      break;
    }
  }
  ASSERT_NE(independent, 0);
  int64_t member = U().CorporationMembers(independent)->front();
  queue_.Enqueue("character", {member});
  RunUntilIdle(Config(""));
  EXPECT_THAT(Completed("corporation"), Contains(independent));
  EXPECT_THAT(Completed("character"), Contains(member));
}

TEST_F(AgentSimTest, AuthenticatesToTheCoordinator) {
  agent_service_.required_authorization = "Bearer agent-secret";
  queue_.Enqueue("alliance_ids", {0});
  AgentConfig config = Config("");
  config.auth_token = "agent-secret";
  RunUntilIdle(config);
  EXPECT_THAT(Completed("alliance_ids"), Contains(0));
}

TEST_F(AgentSimTest, TwoAgentsWithDifferentRegistriesServeOnlyTheirOwnKinds) {
  // Each agent gets a registry of its own, gone once the agent is built: the
  // agent keeps its handler instances, and nothing is shared through the
  // process.
  auto build = [&](const std::string& id, void (*a)(HandlerRegistry&),
                   void (*b)(HandlerRegistry&)) {
    HandlerRegistry registry;
    a(registry);
    b(registry);
    AgentConfig config = Config("");
    config.agent.agent_id = id;
    auto agent = BuildAgent(std::move(config), registry);
    EXPECT_TRUE(agent.ok()) << agent.status();
    return agent.ok() ? std::move(*agent) : nullptr;
  };
  std::unique_ptr<Agent> lists =
      build("lists-agent", RegisterAllianceIdsHandler, RegisterAllianceHandler);
  std::unique_ptr<Agent> corps =
      build("corps-agent", RegisterAllianceCorporationsHandler, RegisterCorporationHandler);
  ASSERT_NE(lists, nullptr);
  ASSERT_NE(corps, nullptr);
  EXPECT_THAT(lists->kinds(), ::testing::ElementsAre("alliance", "alliance_ids"));
  EXPECT_THAT(corps->kinds(), ::testing::ElementsAre("alliance_corporations", "corporation"));

  queue_.Enqueue("alliance_ids", {0});
  ASSERT_TRUE(lists->Start().ok());
  ASSERT_TRUE(corps->Start().ok());
  std::vector<int64_t> alliances = U().AllianceIds();
  const std::set<int64_t> alliance_set(alliances.begin(), alliances.end());
  const std::set<int64_t> corp_set = AllianceCorporations();
  // Characters (discovered from corporations) are served by neither, so the
  // queue never drains: wait for the kinds that are served.
  EXPECT_TRUE(WaitFor(
      [&] {
        return Completed("alliance") == alliance_set && Completed("corporation") == corp_set &&
               Completed("alliance_corporations") == alliance_set;
      },
      seconds(60)));
  lists->Stop();
  corps->Stop();

  EXPECT_THAT(queue_.dead(), IsEmpty());
  EXPECT_THAT(Completed("character"), IsEmpty()) << "no agent serves characters";
  EXPECT_GT(queue_.pending(), 0u);
  // Entity records say which kind produced them: alliances only from the
  // first agent, corporations only from the second.
  std::map<std::string, std::set<std::string>> records_by_agent;
  for (const auto& c : queue_.completions()) {
    for (const auto& r : c.records()) {
      records_by_agent[c.agent_id()].insert(r.has_alliance()      ? "alliance"
                                            : r.has_corporation() ? "corporation"
                                                                  : "other");
    }
  }
  EXPECT_EQ(records_by_agent["lists-agent"], (std::set<std::string>{"alliance"}));
  EXPECT_EQ(records_by_agent["corps-agent"], (std::set<std::string>{"corporation"}));
  EXPECT_GE(lists->stats().tasks_done, static_cast<int64_t>(alliances.size()) + 1);
  EXPECT_GE(corps->stats().tasks_done, static_cast<int64_t>(alliances.size() + corp_set.size()));
  EXPECT_EQ(lists->stats().tasks_failed + corps->stats().tasks_failed, 0);
}

}  // namespace
}  // namespace sluice::agent
