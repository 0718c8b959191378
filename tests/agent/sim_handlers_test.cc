// Every ESI handler over real HTTP against the project's upstream simulator:
// URLs, JSON shapes, ETags and status codes as the agent will meet them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/core/outcome.h"
#include "agent/handlers/all_handlers.h"
#include "agent/http/curl_client.h"
#include "common/time_util.h"
#include "sim/simulator.h"

namespace sluice::agent {
namespace {

using ::testing::ElementsAreArray;
using ::testing::IsSupersetOf;
using ::testing::UnorderedElementsAreArray;

constexpr char kSimToken[] = "sim-token";

class SimHandlersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sim::SimConfig config;
    config.universe = sim::SmallUniverse(7);
    config.auth_token = kSimToken;
    sim_ = new sim::Simulator(config);
    auto port = sim_->Start(0);
    ASSERT_TRUE(port.ok()) << port.status();
  }
  static void TearDownTestSuite() {
    delete sim_;
    sim_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(sim_, nullptr);
    sim_->ResetLimits();
    CurlClientOptions o;
    o.user_agent = MakeUserAgent("ops@example.org");
    client_ = std::make_unique<CurlClient>(o);
  }

  // Runs one task of `kind` through handler + HTTP + outcome mapping.
  TaskOutcome Run(const std::string& kind, int64_t id, const std::string& token = kSimToken,
                  const std::string& etag = "") {
    HandlerConfig config;
    config.esi_base_url = sim_->base_url();
    config.esi_token = token;
    std::unique_ptr<Handler> handler = registry_.Find(kind)->factory(config);
    sluice::v1::Task task;
    task.set_task_id(1);
    task.set_kind(kind);
    task.set_entity_id(id);
    task.set_fencing_token(1);
    task.set_etag(etag);
    UpstreamRequest request = handler->BuildRequest(task);
    if (!etag.empty()) request.headers.emplace_back("If-None-Match", etag);
    auto response = client_->Get(request.url, request.headers);
    return DecideOutcome(*handler, task, "sim-test", response, SystemClock::Get()->Now());
  }

  static std::vector<int64_t> Ids(const TaskOutcome& out, const std::string& kind) {
    for (const auto& d : out.complete.discovered()) {
      if (d.kind() == kind) return {d.ids().begin(), d.ids().end()};
    }
    return {};
  }

  static const sim::Universe& U() { return *sim_->universe(); }

  static sim::Simulator* sim_;
  const HandlerRegistry registry_ = DefaultHandlerRegistry();
  std::unique_ptr<CurlClient> client_;
};

sim::Simulator* SimHandlersTest::sim_ = nullptr;

TEST_F(SimHandlersTest, AllianceIdsListsEveryAlliance) {
  TaskOutcome out = Run("alliance_ids", 0);
  ASSERT_EQ(out.cls, OutcomeClass::kCompleted) << out.fail.error();
  EXPECT_THAT(Ids(out, "alliance"), ElementsAreArray(U().AllianceIds()));
  EXPECT_THAT(Ids(out, "alliance_corporations"), ElementsAreArray(U().AllianceIds()));
  EXPECT_FALSE(out.complete.etag().empty());
  EXPECT_TRUE(out.complete.has_expires());
}

TEST_F(SimHandlersTest, AllianceMatchesTheUniverse) {
  int64_t id = U().AllianceIds().front();
  auto want = *U().FindAlliance(id);
  TaskOutcome out = Run("alliance", id);
  ASSERT_EQ(out.cls, OutcomeClass::kCompleted) << out.fail.error();
  ASSERT_EQ(out.complete.records_size(), 1);
  const auto& a = out.complete.records(0).alliance();
  EXPECT_EQ(a.alliance_id(), id);
  EXPECT_EQ(a.name(), want.name);
  EXPECT_EQ(a.ticker(), want.ticker);
  EXPECT_EQ(a.creator_id(), want.creator_id);
  EXPECT_EQ(a.creator_corporation_id(), want.creator_corporation_id);
  EXPECT_EQ(a.executor_corporation_id(), want.executor_corporation_id);
  EXPECT_EQ(a.faction_id(), want.faction_id);
  EXPECT_EQ(a.date_founded().seconds(), want.date_founded);
  EXPECT_THAT(Ids(out, "corporation"), ElementsAreArray({want.executor_corporation_id}));
}

TEST_F(SimHandlersTest, AllianceCorporationsMatchTheUniverse) {
  int64_t id = U().AllianceIds().back();
  TaskOutcome out = Run("alliance_corporations", id);
  ASSERT_EQ(out.cls, OutcomeClass::kCompleted) << out.fail.error();
  EXPECT_THAT(Ids(out, "corporation"), ElementsAreArray(*U().AllianceCorporations(id)));
}

TEST_F(SimHandlersTest, CorporationMatchesTheUniverseAndDiscoversPeople) {
  int64_t id = U().AllianceCorporations(U().AllianceIds().front())->front();
  auto want = *U().FindCorporation(id);
  TaskOutcome out = Run("corporation", id);
  ASSERT_EQ(out.cls, OutcomeClass::kCompleted) << out.fail.error();
  const auto& c = out.complete.records(0).corporation();
  EXPECT_EQ(c.name(), want.name);
  EXPECT_EQ(c.ticker(), want.ticker);
  EXPECT_EQ(c.member_count(), want.member_count);
  EXPECT_EQ(c.ceo_id(), want.ceo_id);
  EXPECT_EQ(c.creator_id(), want.creator_id);
  EXPECT_EQ(c.alliance_id(), want.alliance_id);
  EXPECT_DOUBLE_EQ(c.tax_rate(), want.tax_rate);
  EXPECT_EQ(c.date_founded().seconds(), want.date_founded);
  EXPECT_THAT(Ids(out, "character"), IsSupersetOf({want.ceo_id}));
  EXPECT_THAT(Ids(out, "alliance"), ElementsAreArray({want.alliance_id}));
  EXPECT_THAT(Ids(out, "corporation_members"), ElementsAreArray({id}));
}

TEST_F(SimHandlersTest, CorporationMembersWithTheTokenListEveryMember) {
  int64_t id = U().AllianceCorporations(U().AllianceIds().front())->front();
  TaskOutcome out = Run("corporation_members", id);
  ASSERT_EQ(out.cls, OutcomeClass::kCompleted) << out.fail.error();
  EXPECT_THAT(Ids(out, "character"), UnorderedElementsAreArray(*U().CorporationMembers(id)));
}

TEST_F(SimHandlersTest, CorporationMembersWithAWrongTokenIsAClientError) {
  int64_t id = U().AllianceCorporations(U().AllianceIds().front())->front();
  TaskOutcome out = Run("corporation_members", id, "wrong-token");
  EXPECT_EQ(out.cls, OutcomeClass::kClientError);
  EXPECT_EQ(out.fail.http_status(), 401);
  EXPECT_FALSE(out.fail.permanent());
}

TEST_F(SimHandlersTest, CharacterMatchesTheUniverse) {
  int64_t corp = U().AllianceCorporations(U().AllianceIds().front())->front();
  int64_t id = U().CorporationMembers(corp)->front();
  auto want = *U().FindCharacter(id);
  TaskOutcome out = Run("character", id);
  ASSERT_EQ(out.cls, OutcomeClass::kCompleted) << out.fail.error();
  const auto& c = out.complete.records(0).character();
  EXPECT_EQ(c.name(), want.name);
  EXPECT_EQ(c.birthday().seconds(), want.birthday);
  EXPECT_EQ(c.gender(), want.gender);
  EXPECT_EQ(c.race_id(), want.race_id);
  EXPECT_EQ(c.bloodline_id(), want.bloodline_id);
  EXPECT_EQ(c.corporation_id(), want.corporation_id);
  EXPECT_EQ(c.alliance_id(), want.alliance_id);
  EXPECT_DOUBLE_EQ(c.security_status(), want.security_status);
  EXPECT_THAT(Ids(out, "corporation"), ElementsAreArray({want.corporation_id}));
}

TEST_F(SimHandlersTest, UnknownIdIsGone) {
  TaskOutcome out = Run("alliance", U().AllianceIds().front() + 1);
  EXPECT_EQ(out.cls, OutcomeClass::kGone);
  EXPECT_EQ(out.fail.http_status(), 404);
}

TEST_F(SimHandlersTest, KnownEtagGivesNotModified) {
  int64_t id = U().AllianceIds().front();
  TaskOutcome first = Run("alliance", id);
  ASSERT_EQ(first.cls, OutcomeClass::kCompleted);
  ASSERT_FALSE(first.complete.etag().empty());
  TaskOutcome second = Run("alliance", id, kSimToken, first.complete.etag());
  EXPECT_EQ(second.cls, OutcomeClass::kNotModified);
  EXPECT_TRUE(second.complete.not_modified());
  EXPECT_EQ(second.complete.records_size(), 0);
  EXPECT_EQ(second.complete.etag(), first.complete.etag());
}

TEST_F(SimHandlersTest, EveryRequestCarriesTheIdentifyingUserAgent) {
  Run("alliance_ids", 0);
  nlohmann::json stats = sim_->Stats();
  EXPECT_EQ(stats["requests_without_user_agent"], 0);
  EXPECT_TRUE(stats["user_agents"].contains(MakeUserAgent("ops@example.org")))
      << stats["user_agents"].dump();
}

}  // namespace
}  // namespace sluice::agent
