// A coordinator (contract module configured for two regions), the upstream
// simulator (contracts: 250 per region, 100 per page, so 3 pages; its own
// FakeClock so tests can make contracts expire) and agents, all in-process
// over real gRPC, real HTTP and a real PostgreSQL.
#ifndef SLUICE_TESTS_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_TEST_UTIL_H_
#define SLUICE_TESTS_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "agent/agent_builder.h"
#include "server/coordinator.h"
#include "server/workflows/contracts/contract_aggregation_job.h"
#include "sim/simulator.h"
#include "tests/support/test_database.h"

namespace sluice::testing {

inline constexpr int64_t kForge = 10000002;
inline constexpr int64_t kDomain = 10000043;
inline constexpr int kPerRegion = 250;
inline constexpr int kPageSize = 100;
inline constexpr int kPages = 3;
// Sim contract lifetime: one contract per region churns every kLifetimeS / kPerRegion.
inline constexpr int64_t kLifetimeS = 3 * 24 * 3600;

class ContractFixture : public ::testing::Test {
 protected:
  // A whole hour, as the simulator's contract epoch is: churn is exact.
  ContractFixture()
      : sim_clock_(
            FromUnixSeconds(std::floor(ToUnixSeconds(SystemClock::Get()->Now()) / 3600) * 3600)) {}

  void SetUp() override { StartSim(); }

  void TearDown() override {
    StopAgents();
    if (coordinator_) coordinator_->Shutdown(std::chrono::milliseconds(500));
    if (sim_) sim_->Stop();
  }

  void StartSim() {
    sim::SimConfig sc;
    sc.threads = 8;
    sc.universe.alliances = 2;
    sc.universe.corporations = 4;
    sc.universe.characters = 8;
    sc.esi_groups.clear();
    sim_ = std::make_unique<sim::Simulator>(sc, &sim_clock_);
    auto port = sim_->Start(0);
    ASSERT_TRUE(port.ok()) << port.status();
    // No cache lifetimes: the simulator's clock only moves when a test moves
    // it while the coordinator's runs, so an Expires ahead on the
    // simulator's clock would hold the coordinator's next read (or a retry)
    // of a region or an item list for real minutes.
    SimPost("/sim/contracts/config?per_region=" + std::to_string(kPerRegion) +
            "&page_size=" + std::to_string(kPageSize) +
            "&regions=10000002,10000043&cache_s=0&detail_cache_s=0");
  }

  // dsn: the database the coordinator uses (a proxy in outage tests).
  void StartCoordinator(const std::string& dsn) {
    CoordinatorOptions co;
    co.listen = "127.0.0.1:0";
    co.dsn = dsn;
    co.db_pool_size = 6;
    co.scheduler.enabled = false;  // runs only when a test asks
    co.queue.retry.bad_body_retry_after = std::chrono::milliseconds(500);
    co.scheduler.lock_connect_timeout = std::chrono::seconds(2);
    co.scheduler.stop_deadline = std::chrono::milliseconds(2000);
    co.throttle.esi_default = {100000, std::chrono::minutes(1)};
    co.workflows.contracts.regions = {kForge, kDomain};
    co.workflows.contracts.run_timeout = std::chrono::seconds(90);
    co.workflows.contracts.batch_size = 64;  // several batches per page
    coordinator_ = std::make_unique<Coordinator>(co);
    absl::Status s = coordinator_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }

  void StartAgent() {
    agent::AgentConfig ac;
    ac.coordinator = "127.0.0.1:" + std::to_string(coordinator_->port());
    ac.agent.agent_id = "contracts-agent-" + std::to_string(agents_.size());
    ac.agent.workers = 4;
    ac.agent.lease_wait = std::chrono::milliseconds(500);
    ac.handlers.esi_base_url = sim_->base_url();
    ac.contact = "contracts-test@sluice.invalid";
    auto built = agent::BuildAgent(ac);
    ASSERT_TRUE(built.ok()) << built.status();
    agents_.push_back(std::move(*built));
    ASSERT_TRUE(agents_.back()->Start().ok());
  }

  void StopAgents() {
    for (auto& a : agents_) a->Stop();
    agents_.clear();
  }

  // Runs the job now and waits for it; returns the run id.
  std::string RunJob() {
    auto run = coordinator_->scheduler()->RunNow(ContractAggregationJob::kName);
    EXPECT_TRUE(run.ok()) << run.status();
    EXPECT_TRUE(coordinator_->scheduler()->WaitUntilIdle(std::chrono::seconds(120)));
    return run.ok() ? *run : "";
  }

  int64_t RunCounter(const std::string& run_id, const std::string& column) {
    return db_.Count("SELECT " + column + " FROM job_runs WHERE run_id = '" + run_id + "'");
  }
  std::string RunOutcome(const std::string& run_id) {
    return db_.Query(
        "SELECT outcome || coalesce(': ' || detail, '') FROM job_runs "
        "WHERE run_id = '" +
        run_id + "'");
  }

  nlohmann::json SimPost(const std::string& path) {
    httplib::Client client("127.0.0.1", sim_->port());
    auto res = client.Post(path.c_str(), "", "application/json");
    EXPECT_TRUE(res && res->status == 200) << path << ": " << (res ? res->body : "no answer");
    return res ? nlohmann::json::parse(res->body, nullptr, false) : nlohmann::json();
  }

  // Every contract id the simulator lists for the region now (all pages).
  std::set<int64_t> SimListedIds(int64_t region) {
    httplib::Client client("127.0.0.1", sim_->port());
    client.set_default_headers({{"User-Agent", "contracts-test-verifier"}});
    std::set<int64_t> ids;
    int pages = 1;
    for (int page = 1; page <= pages; ++page) {
      auto res = client.Get(
          ("/contracts/public/" + std::to_string(region) + "/?page=" + std::to_string(page))
              .c_str());
      EXPECT_TRUE(res && res->status == 200);
      if (!res) break;
      pages = std::stoi(res->get_header_value("X-Pages"));
      for (const auto& c : nlohmann::json::parse(res->body))
        ids.insert(c["contract_id"].get<int64_t>());
    }
    return ids;
  }

  std::set<int64_t> StoredIds(int64_t region) {
    std::set<int64_t> ids;
    std::string text = db_.Query(
        "SELECT string_agg(contract_id::text, ',' ORDER BY contract_id) "
        "FROM contracts WHERE region_id = " +
        std::to_string(region));
    size_t pos = 0;
    while (pos < text.size()) {
      size_t comma = text.find(',', pos);
      if (comma == std::string::npos) comma = text.size();
      ids.insert(std::stoll(text.substr(pos, comma - pos)));
      pos = comma + 1;
    }
    return ids;
  }

  FakeClock sim_clock_;
  TestDatabase db_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<Coordinator> coordinator_;
  std::vector<std::unique_ptr<agent::Agent>> agents_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_TEST_UTIL_H_
