// The contract_aggregation job's own duties: refreshing only stale types
// (and bumping the ones that fail so the next run does not pick them again),
// and aborting on a database failure with the lock released.
#include <glog/logging.h>

#include <mutex>

#include "tests/server/workflows/contracts/contract_test_util.h"
#include "tests/support/tcp_proxy.h"

namespace sluice::testing {
namespace {

class CriticalSink final : public google::LogSink {
 public:
  CriticalSink() { google::AddLogSink(this); }
  ~CriticalSink() override { google::RemoveLogSink(this); }
  void send(google::LogSeverity severity, const char*, const char*, int,
            const google::LogMessageTime&, const char* message, size_t len) override {
    std::string line(message, len);
    std::lock_guard<std::mutex> lock(mu_);
    if (severity >= google::GLOG_ERROR && line.find("CRITICAL") != std::string::npos) {
      lines_.push_back(line);
    }
  }
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

using ContractJobTest = ContractFixture;

TEST_F(ContractJobTest, TypeRefreshPicksOnlyStaleTypesAndBumpsFailures) {
  // No contracts: this run is only about the type cache.
  SimPost("/sim/contracts/config?per_region=0");
  StartCoordinator(db_.dsn());
  // Cached types: two stale (40 and 31 days), one fresh (10 days), two
  // stale that the upstream now fails (500, 404).
  db_.Query(
      "INSERT INTO universe_types (type_id, name, group_id, last_refreshed_at) VALUES "
      "(587, 'old name', 1, now() - interval '40 days'), "
      "(24690, 'Drake', 419, now() - interval '31 days'), "
      "(603, 'Merlin', 25, now() - interval '10 days'), "
      "(641, 'Megathron', 27, now() - interval '35 days'), "
      "(17738, 'Machariel', 27, now() - interval '33 days')");
  SimPost("/sim/types/fail?type_id=641&status=500");
  SimPost("/sim/types/fail?type_id=17738&status=404");
  StartAgent();
  const std::string run = RunJob();
  ASSERT_EQ(RunOutcome(run), "succeeded");

  auto age_days = [&](int64_t type) {
    return std::stod(
        db_.Query("SELECT extract(epoch FROM now() - last_refreshed_at) / 86400 "
                  "FROM universe_types WHERE type_id = " +
                  std::to_string(type)));
  };
  // Stale and answering: refreshed from the upstream.
  EXPECT_LT(age_days(587), 0.01);
  EXPECT_EQ(db_.Query("SELECT name || '/' || group_id FROM universe_types WHERE type_id = 587"),
            "Rifter/25");
  EXPECT_LT(age_days(24690), 0.01);
  // Fresh: not asked for at all.
  EXPECT_NEAR(age_days(603), 10, 0.01);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM entity_cache WHERE kind = 'universe_type' "
                      "AND entity_id = 603"),
            0);
  // Failing: timestamp bumped, failure counted, the error kept.
  for (int64_t failing : {641, 17738}) {
    SCOPED_TRACE(failing);
    EXPECT_LT(age_days(failing), 0.01);
    // >= 1: the 500 keeps retrying on its own backoff after the run.
    EXPECT_GE(db_.Count("SELECT refresh_failures FROM universe_types WHERE type_id = " +
                        std::to_string(failing)),
              1);
  }
  EXPECT_NE(db_.Query("SELECT last_error FROM universe_types WHERE type_id = 641").find("500"),
            std::string::npos);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM dead_tasks WHERE kind = 'universe_type' "
                      "AND entity_id = 17738"),
            1);
  EXPECT_EQ(RunCounter(run, "errors"), 2);
  EXPECT_EQ(RunCounter(run, "tasks_queued"), 4 + 2);  // 4 stale types, 2 regions

  // The next run picks nothing: the failures were bumped, the rest is fresh.
  const std::string next = RunJob();
  ASSERT_EQ(RunOutcome(next), "succeeded");
  EXPECT_EQ(RunCounter(next, "tasks_queued"), 2);  // the regions only
}

TEST_F(ContractJobTest, DatabaseFailureAbortsTheRunAndReleasesTheLock) {
  auto [host, port] = DsnHostPort(db_.dsn());
  TcpProxy proxy(host, port);
  StartCoordinator(DsnWithHostPort(db_.dsn(), "127.0.0.1", proxy.port()));
  CriticalSink sink;
  // No agent yet: the run waits for its regions, and the database goes away.
  auto run = coordinator_->scheduler()->RunNow(ContractAggregationJob::kName);
  ASSERT_TRUE(run.ok()) << run.status();
  for (int i = 0;
       i < 200 &&
       db_.Count("SELECT count(*) FROM contract_region_runs WHERE run_id = '" + *run + "'") < 2;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_EQ(db_.Count("SELECT count(*) FROM discovery_queue WHERE kind = 'contracts_region'"), 2);
  proxy.SetUp(false);
  ASSERT_TRUE(coordinator_->scheduler()->WaitUntilIdle(std::chrono::seconds(60)));
  bool logged = false;
  for (const std::string& line : sink.lines()) {
    if (line.find("[run " + *run + "] CRITICAL: contract aggregation aborted") !=
        std::string::npos) {
      logged = true;
    }
  }
  EXPECT_TRUE(logged);

  // The database is back: the lock was released, so the next run takes it
  // and completes (the run before could not even be recorded as failed).
  proxy.SetUp(true);
  StartAgent();
  std::string next;
  for (int i = 0; i < 50; ++i) {
    auto again = coordinator_->scheduler()->RunNow(ContractAggregationJob::kName);
    if (again.ok()) {
      next = *again;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(next.empty());
  ASSERT_TRUE(coordinator_->scheduler()->WaitUntilIdle(std::chrono::seconds(120)));
  EXPECT_EQ(RunOutcome(next), "succeeded");
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contracts"), 2 * kPerRegion);
  EXPECT_NE(RunOutcome(*run), "succeeded");
}

}  // namespace
}  // namespace sluice::testing
