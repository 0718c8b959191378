// The scheduler through the whole coordinator over gRPC: RunJob starts a run
// and returns its id, ListJobRuns shows the jobs and the run's summary, and
// bad names are refused naming the field.
#include <gmock/gmock.h>

#include "common/time_util.h"
#include "tests/server/service/coordinator_fixture.h"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;

class JobsServiceTest : public CoordinatorFixture {
 protected:
  void SetUp() override { StartCoordinator(); }

  // Polls ListJobRuns until the run has finished; returns it.
  v1::JobRun WaitFinished(const std::string& run_id) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < until) {
      v1::ListJobRunsRequest req;
      v1::ListJobRunsResponse resp;
      auto s = admin_->ListJobRuns(Ctx().get(), req, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      for (const auto& r : resp.runs()) {
        if (r.run_id() == run_id && r.outcome() != "running") return r;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "run " << run_id << " did not finish";
    return {};
  }
};

TEST_F(JobsServiceTest, RunJobThenListJobRuns) {
  db_.Query(
      "INSERT INTO corporation_static (corporation_id, name, ticker) VALUES "
      "(98000001, 'Corp One', 'C1'), (98000002, 'Corp Two', 'C2')");
  v1::RunJobRequest req;
  req.set_name("snapshots");
  v1::RunJobResponse resp;
  auto s = admin_->RunJob(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(resp.run_id(), ::testing::StartsWith("snapshots-"));
  v1::JobRun run = WaitFinished(resp.run_id());
  EXPECT_EQ(run.outcome(), "succeeded") << run.detail();
  EXPECT_EQ(run.rows_upserted(), 2);
  EXPECT_TRUE(run.has_finished_at());

  req.set_name("daily_esi");
  ASSERT_TRUE(admin_->RunJob(Ctx().get(), req, &resp).ok());
  v1::JobRun daily = WaitFinished(resp.run_id());
  EXPECT_EQ(daily.outcome(), "succeeded") << daily.detail();
  EXPECT_EQ(daily.tasks_queued(), 1);  // the alliance id list
  EXPECT_EQ(db_.Count("SELECT count(*) FROM discovery_queue WHERE kind = 'alliance_ids' "
                      "AND priority = 3"),
            1);

  // Filtered by job, and the jobs with their schedule (off in tests).
  v1::ListJobRunsRequest list;
  list.set_job("snapshots");
  v1::ListJobRunsResponse runs;
  ASSERT_TRUE(admin_->ListJobRuns(Ctx().get(), list, &runs).ok());
  ASSERT_EQ(runs.runs_size(), 1);
  EXPECT_EQ(runs.runs(0).run_id(), run.run_id());
  ASSERT_EQ(runs.jobs_size(), 1);
  EXPECT_EQ(runs.jobs(0).name(), "snapshots");
  EXPECT_EQ(FromProtoDuration(runs.jobs(0).interval()), std::chrono::hours(24));
  EXPECT_FALSE(runs.jobs(0).has_next_run_at()) << "periodic runs are off in tests";
  EXPECT_EQ(runs.jobs(0).skipped_fail_closed(), 0);

  list.clear_job();
  ASSERT_TRUE(admin_->ListJobRuns(Ctx().get(), list, &runs).ok());
  EXPECT_EQ(runs.runs_size(), 2);
  // Every registered job is listed, the workflow modules' ones included.
  std::vector<std::string> names;
  for (const auto& j : runs.jobs()) names.push_back(j.name());
  EXPECT_THAT(names,
              ::testing::IsSupersetOf({"daily_esi", "snapshots", "killmail_sync", "scan_entities",
                                       "contract_aggregation", "poe_transform"}));
  EXPECT_EQ(runs.runs(0).run_id(), daily.run_id()) << "newest first";
}

TEST_F(JobsServiceTest, BadNamesAreRefusedNamingTheField) {
  v1::RunJobRequest req;
  v1::RunJobResponse resp;
  auto s = admin_->RunJob(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("name"));
  req.set_name("Snapshots!");
  EXPECT_EQ(admin_->RunJob(Ctx().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  req.set_name("killmails");
  s = admin_->RunJob(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("name"));
  EXPECT_THAT(s.error_message(), HasSubstr("daily_esi"));

  v1::ListJobRunsRequest list;
  v1::ListJobRunsResponse runs;
  list.set_job("killmails");
  s = admin_->ListJobRuns(Ctx().get(), list, &runs);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("job"));
  list.clear_job();
  list.set_limit(-1);
  s = admin_->ListJobRuns(Ctx().get(), list, &runs);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("limit"));
  EXPECT_EQ(db_.Count("SELECT count(*) FROM job_runs"), 0);
}

TEST_F(JobsServiceTest, UnreachableDatabaseIsCountedAsFailClosed) {
  proxy_->SetUp(false);
  v1::RunJobRequest req;
  req.set_name("snapshots");
  v1::RunJobResponse resp;
  ASSERT_TRUE(admin_->RunJob(Ctx().get(), req, &resp).ok());
  ASSERT_TRUE(coordinator_->scheduler()->WaitUntilIdle(std::chrono::seconds(20)));
  proxy_->SetUp(true);

  v1::ListJobRunsRequest list;
  list.set_job("snapshots");
  v1::ListJobRunsResponse runs;
  auto s = admin_->ListJobRuns(Ctx().get(), list, &runs);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(runs.runs_size(), 0) << "a fail-closed skip cannot be written";
  ASSERT_EQ(runs.jobs_size(), 1);
  EXPECT_EQ(runs.jobs(0).skipped_fail_closed(), 1);
  EXPECT_EQ(runs.jobs(0).last_fail_closed_run_id(), resp.run_id());
}

}  // namespace
}  // namespace sluice::testing
