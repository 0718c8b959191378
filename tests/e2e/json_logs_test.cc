// Real sluice-coordinator and sluice-agent processes with --log_format=json
// run a daily sequence started as a `daily` run over gRPC: every line either
// process writes is one JSON object with the fields operators filter on, the
// same task_id (and lease) appears in both processes' lines, so one task can
// be followed across them, the daily run's id is on both processes' lines
// about the tasks it queued and they discovered, and the run is listed with
// its outcome.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "sim/simulator.h"
#include "sluice/v1/admin.grpc.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/ports.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Each line of a child's log as JSON; a line that is not a JSON object
// fails the test, naming it.
std::vector<nlohmann::json> JsonLines(const ChildProcess& p, const std::string& component) {
  std::vector<nlohmann::json> out;
  std::istringstream in(p.Log());
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object()) << component << " wrote a line that is not JSON: " << line;
    if (!j.is_object()) continue;
    for (const char* key : {"time", "level", "component", "message"}) {
      EXPECT_TRUE(j.contains(key)) << key << " missing: " << line;
    }
    EXPECT_EQ(j.value("component", ""), component) << line;
    out.push_back(std::move(j));
  }
  return out;
}

TEST(JsonLogsTest, OneTaskCarriesTheSameIdsInTheCoordinatorsAndTheAgentsLines) {
  TestDatabase db;
  sim::SimConfig sc;
  sc.universe.alliances = 3;
  sc.universe.corporations = 9;
  sc.universe.characters = 30;
  sim::Simulator sim(sc);
  ASSERT_TRUE(sim.Start(0).ok());

  const int port = UnusedLoopbackPort();
  const std::string log_dir = ::testing::TempDir();
  ChildProcess coordinator(
      {SLUICE_COORDINATOR_BINARY, absl::StrCat("--listen=127.0.0.1:", port), "--dsn=" + db.dsn(),
       "--ops_listen=", "--jobs_enabled=false", "--db_pool_size=4", "--drain_s=1",
       "--log_format=json", "--v=1"},
      // The test's own environment may carry a DSN: with --dsn that is a second one.
      {"SLUICE_DSN="}, absl::StrCat(log_dir, "json-logs-coordinator-", getpid(), ".log"));
  ASSERT_GT(coordinator.pid(), 0);
  auto admin = v1::AdminService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(WaitUntil(
      [&] {
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + milliseconds(500));
        v1::QueueStatusResponse res;
        return admin->QueueStatus(&ctx, v1::QueueStatusRequest(), &res).ok();
      },
      seconds(60)))
      << coordinator.Log();

  ChildProcess agent({SLUICE_AGENT_BINARY, "--agent_id=json-agent",
                      absl::StrCat("--coordinator=127.0.0.1:", port),
                      "--upstream_esi=" + sim.base_url(), "--workers=2", "--lease_wait_ms=200",
                      "--contact=json-logs@sluice.invalid", "--log_format=json", "--v=1"},
                     {"ESI_BEARER_TOKEN=" + sc.auth_token},
                     absl::StrCat(log_dir, "json-logs-agent-", getpid(), ".log"));
  ASSERT_GT(agent.pid(), 0);

  v1::StartDailyResponse started;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin->StartDaily(&ctx, v1::StartDailyRequest(), &started).ok());
  }
  ASSERT_EQ(started.run_id().rfind("daily-", 0), 0u) << started.run_id();
  int drained = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        grpc::ClientContext ctx;
        v1::QueueStatusResponse res;
        if (!admin->QueueStatus(&ctx, v1::QueueStatusRequest(), &res).ok()) return false;
        int64_t pending = 0;
        for (const auto& k : res.kinds()) pending += k.ready() + k.leased() + k.retrying();
        drained = pending == 0 ? drained + 1 : 0;
        return drained >= 2;
      },
      seconds(120)))
      << agent.Log();
  {
    v1::FinishDailyRequest req;
    req.set_run_id(started.run_id());
    req.set_rows_upserted(42);
    v1::FinishDailyResponse res;
    grpc::ClientContext ctx;
    grpc::Status s = admin->FinishDaily(&ctx, req, &res);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(res.outcome(), "succeeded");
    // A run is closed once.
    grpc::ClientContext again;
    EXPECT_EQ(admin->FinishDaily(&again, req, &res).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    // Listed like the scheduler's own runs, with what its driver reported.
    v1::ListJobRunsRequest req;
    req.set_job("daily");
    v1::ListJobRunsResponse res;
    grpc::ClientContext ctx;
    grpc::Status s = admin->ListJobRuns(&ctx, req, &res);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_EQ(res.runs_size(), 1);
    EXPECT_EQ(res.runs(0).run_id(), started.run_id());
    EXPECT_EQ(res.runs(0).outcome(), "succeeded");
    EXPECT_EQ(res.runs(0).rows_upserted(), 42);
    EXPECT_EQ(res.runs(0).tasks_queued(), started.tasks_queued());
    EXPECT_TRUE(res.runs(0).has_finished_at());
  }
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait(seconds(30)), 0) << agent.Log();
  coordinator.Signal(SIGTERM);
  EXPECT_EQ(coordinator.Wait(seconds(30)), 0) << coordinator.Log();

  const std::vector<nlohmann::json> coordinator_lines =
      JsonLines(coordinator, "sluice-coordinator");
  const std::vector<nlohmann::json> agent_lines = JsonLines(agent, "sluice-agent");
  // task id -> lease ids each process logged it under.
  std::map<int64_t, std::set<int64_t>> coordinator_tasks, agent_tasks;
  bool run_logged = false;
  for (const auto& j : coordinator_lines) {
    if (j.contains("task_id")) {
      coordinator_tasks[j["task_id"].get<int64_t>()].insert(j.value("lease_id", int64_t{0}));
      EXPECT_EQ(j.value("agent_id", ""), "json-agent") << j.dump();
    }
    if (j.value("run_id", "") == started.run_id()) run_logged = true;
  }
  for (const auto& j : agent_lines) {
    EXPECT_EQ(j.value("agent_id", ""), "json-agent") << j.dump();
    if (j.contains("task_id")) {
      agent_tasks[j["task_id"].get<int64_t>()].insert(j.value("lease_id", int64_t{0}));
    }
  }
  EXPECT_TRUE(run_logged) << "no coordinator line carries run_id " << started.run_id();
  int followed = 0;
  for (const auto& [task, leases] : agent_tasks) {
    auto it = coordinator_tasks.find(task);
    if (it == coordinator_tasks.end()) continue;
    for (int64_t lease : leases) {
      if (it->second.count(lease)) ++followed;
    }
  }
  EXPECT_GT(followed, 0) << "no (task_id, lease_id) in both processes' lines: coordinator "
                         << coordinator_tasks.size() << " task(s), agent " << agent_tasks.size();

  // The run reaches the agents with the lease, down the discovery chain: the
  // daily run queued one task (the alliance id list, the first row of this
  // fresh queue); every other task was discovered, and an agent's line about
  // one carries the run's id, as does the coordinator's line about it.
  int64_t root = 0;
  for (const auto& [task, leases] : agent_tasks) root = root == 0 ? task : std::min(root, task);
  std::map<int64_t, std::set<std::string>> coordinator_runs;  // task id -> run ids logged
  for (const auto& j : coordinator_lines) {
    if (j.contains("task_id")) {
      coordinator_runs[j["task_id"].get<int64_t>()].insert(j.value("run_id", ""));
    }
  }
  int discovered_followed = 0;
  for (const auto& j : agent_lines) {
    if (!j.contains("task_id") || j["task_id"].get<int64_t>() == root) continue;
    const int64_t task = j["task_id"].get<int64_t>();
    EXPECT_EQ(j.value("run_id", ""), started.run_id()) << j.dump();
    if (coordinator_runs[task].count(started.run_id())) ++discovered_followed;
  }
  EXPECT_GT(discovered_followed, 0)
      << "no discovered task's agent and coordinator lines both carry run_id " << started.run_id();
  for (const auto& [task, runs] : coordinator_runs) {
    for (const std::string& run : runs) {
      EXPECT_TRUE(run.empty() || run == started.run_id()) << "task " << task << " logged in " << run;
    }
  }
}

}  // namespace
}  // namespace sluice::testing
