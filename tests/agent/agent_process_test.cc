// The real sluice-agent binary as a child process, against fake coordinator
// services and the upstream simulator: flags and environment wiring, SIGTERM
// drain with exit status 0, rate tokens handed back, and (opt-in soak,
// SLUICE_AGENT_SOAK=1) the full-size universe within the memory target.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/time_util.h"
#include "sim/simulator.h"
#include "tests/agent/fakes.h"
#include "tests/support/child_process.h"

extern char** environ;

namespace sluice::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

using ::sluice::testing::ChildProcess;
using ::sluice::testing::ReadFile;

class AgentProcessTest : public ::testing::Test {
 protected:
  AgentProcessTest()
      : throttler_(SystemClock::Get()),
        agent_service_(&queue_),
        coordinator_({&agent_service_, &throttler_}) {}
  ~AgentProcessTest() override { throttler_.Stop(); }

  void StartSim(const sim::UniverseConfig& universe) {
    sim::SimConfig config;
    config.universe = universe;
    // Upstream limits are not what these tests are about.
    config.esi_groups = {
        {"alliance", 10000000, 60}, {"corporation", 10000000, 60}, {"character", 10000000, 60}};
    sim_ = std::make_unique<sim::Simulator>(config);
    ASSERT_TRUE(sim_->Start(0).ok());
  }

  // Flags and environment the way an operator would give them.
  std::unique_ptr<ChildProcess> StartAgent(int workers) {
    log_path_ = ::testing::TempDir() + "sluice-agent-" + std::to_string(getpid()) + ".log";
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{SLUICE_AGENT_BINARY, "--agent_id=proc-agent",
                                 "--upstream_esi=" + sim_->base_url(), "--lease_wait_ms=200"},
        std::vector<std::string>{
            "SLUICE_COORDINATOR=" + coordinator_.address(),
            "WORKER_COUNT=" + std::to_string(workers), "SLUICE_CONTACT=ops@example.org",
            "ESI_BEARER_TOKEN=" + sim_->config().auth_token, "SLUICE_DRAIN_TIMEOUT_S=5"},
        log_path_);
  }

  testing::InMemoryQueue queue_;
  testing::FakeThrottler throttler_;
  testing::FakeAgentService agent_service_;
  testing::GrpcTestServer coordinator_;
  std::unique_ptr<sim::Simulator> sim_;
  std::string log_path_;
};

TEST_F(AgentProcessTest, RunsTheDailySequenceThenDrainsOnSigtermAndExitsZero) {
  sim::UniverseConfig universe;
  universe.seed = 5;
  universe.alliances = 4;
  universe.corporations = 12;
  universe.characters = 60;
  StartSim(universe);
  queue_.Enqueue("alliance_ids", {0});
  auto agent = StartAgent(4);
  ASSERT_GT(agent->pid(), 0);
  ASSERT_TRUE(queue_.WaitIdle(seconds(60))) << ReadFile(log_path_);
  EXPECT_EQ(queue_.agents_seen(), std::set<std::string>{"proc-agent"});

  ASSERT_EQ(kill(agent->pid(), SIGTERM), 0);
  EXPECT_EQ(agent->Wait(seconds(20)), 0) << ReadFile(log_path_);

  EXPECT_TRUE(queue_.dead().empty());
  EXPECT_EQ(queue_.records("character").size(), 60u) << "member lists reach every character";
  nlohmann::json stats = sim_->Stats();
  const int64_t requests = stats["requests_total"];
  EXPECT_EQ(throttler_.granted_total(), requests + throttler_.returned())
      << "tokens not spent must all be handed back by the time the process exits";
  EXPECT_TRUE(stats["user_agents"].contains(std::string("sluice-agent/") + SLUICE_VERSION +
                                            " (+contact: ops@example.org)"))
      << stats["user_agents"].dump();
}

TEST_F(AgentProcessTest, ASpentBudgetDefersEveryTaskAndSigtermExitsZero) {
  sim::UniverseConfig universe;
  universe.alliances = 1;
  universe.corporations = 1;
  universe.characters = 1;
  StartSim(universe);
  throttler_.refuse = true;  // the budget is exhausted: nothing may be called
  throttler_.refuse_retry_after_ms = 60000;
  queue_.max_backoff = std::chrono::minutes(5);
  queue_.Enqueue("character", {1, 2, 3});
  auto agent = StartAgent(2);
  ASSERT_TRUE(testing::WaitFor([&] { return throttler_.lease_calls() > 0; }))
      << ReadFile(log_path_);
  std::this_thread::sleep_for(milliseconds(300));
  ASSERT_EQ(kill(agent->pid(), SIGTERM), 0);
  EXPECT_EQ(agent->Wait(seconds(20)), 0) << ReadFile(log_path_);
  EXPECT_EQ(sim_->Stats()["requests_total"], 0) << "no upstream call without a token";
  EXPECT_EQ(queue_.failures().size(), 3u)
      << "every task given back once, until the budget has room";
  for (const auto& f : queue_.failures()) {
    EXPECT_FALSE(f.permanent());
    EXPECT_TRUE(f.release());
    EXPECT_GE(FromProtoDuration(f.retry_after()), std::chrono::seconds(50));
  }
}

TEST_F(AgentProcessTest, SoakFullUniverseStaysUnderTheMemoryTarget) {
  const char* enabled = std::getenv("SLUICE_AGENT_SOAK");
  if (enabled == nullptr || std::string(enabled) != "1") {
    GTEST_SKIP() << "set SLUICE_AGENT_SOAK=1 to run the full-universe soak (minutes)";
  }
  StartSim(sim::FullUniverse(3));
  queue_.keep_completions = false;
  throttler_.keep_observations = false;
  queue_.Enqueue("alliance_ids", {0});
  auto started = std::chrono::steady_clock::now();
  auto agent = StartAgent(8);
  ASSERT_TRUE(queue_.WaitIdle(std::chrono::minutes(60))) << queue_.pending() << " left";
  const int64_t peak = agent->PeakRssMib();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(kill(agent->pid(), SIGTERM), 0);
  EXPECT_EQ(agent->Wait(seconds(30)), 0);
  std::cout << "soak: " << queue_.completed_count() << " tasks in " << secs << " s ("
            << queue_.completed_count() / secs << "/s); agent peak RSS " << peak << " MiB\n";
  EXPECT_GT(queue_.completed_count(), 90000);
  EXPECT_TRUE(queue_.dead().empty());
  EXPECT_GT(peak, 0);
  EXPECT_LE(peak, 128);
}

}  // namespace
}  // namespace sluice::agent
