// Coordinators keep their kinds, extensions and settings to themselves: two
// in one process, on two databases and one upstream, each classifies the
// same contracts by its own ship groups (with process-global registries the
// second coordinator's contract settings were silently dropped).
#include "server/coordinator.h"

#include "tests/server/workflows/contracts/contract_test_util.h"

namespace sluice::testing {
namespace {

class CoordinatorTest : public ContractFixture {
 protected:
  void TearDown() override {
    if (other_agent_) other_agent_->Stop();
    if (other_) other_->Shutdown(std::chrono::milliseconds(500));
    ContractFixture::TearDown();
  }

  // A second coordinator (and its agent) that counts no group as ships.
  void StartOther() {
    CoordinatorOptions co;
    co.listen = "127.0.0.1:0";
    co.dsn = other_db_.dsn();
    co.db_pool_size = 6;
    co.scheduler.enabled = false;
    co.throttle.esi_default = {100000, std::chrono::minutes(1)};
    co.workflows.contracts.regions = {kForge, kDomain};
    co.workflows.contracts.run_timeout = std::chrono::seconds(90);
    co.workflows.contracts.ship_group_ids = {};
    other_ = std::make_unique<Coordinator>(co);
    ASSERT_TRUE(other_->Start().ok());

    agent::AgentConfig ac;
    ac.coordinator = "127.0.0.1:" + std::to_string(other_->port());
    ac.agent.agent_id = "other-agent";
    ac.agent.workers = 4;
    ac.agent.lease_wait = std::chrono::milliseconds(500);
    ac.handlers.esi_base_url = sim_->base_url();
    ac.contact = "coordinator-test@sluice.invalid";
    auto built = agent::BuildAgent(ac);
    ASSERT_TRUE(built.ok()) << built.status();
    other_agent_ = std::move(*built);
    ASSERT_TRUE(other_agent_->Start().ok());
  }

  TestDatabase other_db_;
  std::unique_ptr<Coordinator> other_;
  std::unique_ptr<agent::Agent> other_agent_;
};

TEST_F(CoordinatorTest, TwoCoordinatorsInOneProcessEachApplyTheirOwnContractSettings) {
  StartCoordinator(db_.dsn());  // the default ship groups
  StartAgent();
  StartOther();

  ASSERT_EQ(RunOutcome(RunJob()), "succeeded");
  auto run = other_->scheduler()->RunNow(ContractAggregationJob::kName);
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(other_->scheduler()->WaitUntilIdle(std::chrono::seconds(120)));
  EXPECT_EQ(other_db_.Query("SELECT outcome FROM job_runs WHERE run_id = '" + *run + "'"),
            "succeeded");

  // Both stored every contract and classified every item exchange...
  const std::string all = "SELECT count(*) FROM contracts";
  const std::string unclassified =
      "SELECT count(*) FROM contracts WHERE type = 'item_exchange' AND is_ship_contract IS NULL";
  EXPECT_EQ(db_.Count(all), 2 * kPerRegion);
  EXPECT_EQ(other_db_.Count(all), 2 * kPerRegion);
  EXPECT_EQ(db_.Count(unclassified), 0);
  EXPECT_EQ(other_db_.Count(unclassified), 0);
  // ...each by its own rule.
  const std::string ships = "SELECT count(*) FROM contracts WHERE is_ship_contract";
  EXPECT_GT(db_.Count(ships), 20);
  EXPECT_EQ(other_db_.Count(ships), 0);
  // And each has its own kinds registered once, not shared.
  EXPECT_NE(&coordinator_->queue()->kinds(), &other_->queue()->kinds());
  EXPECT_NE(other_->queue()->kinds().Find("contracts_region"), nullptr);
}

}  // namespace
}  // namespace sluice::testing
