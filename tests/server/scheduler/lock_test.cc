// The job lock: never two runs of one job at once (across coordinators), fail
// closed when the lock cannot be checked, and always released.
#include <gmock/gmock.h>

#include "server/scheduler/job_lock.h"
#include "tests/server/scheduler/scheduler_fixture.h"
#include "tests/support/tcp_proxy.h"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;

class LockTest : public SchedulerFixture {};

TEST_F(LockTest, SecondConcurrentRunIsRefused) {
  // Two lock holders on the same job, as two coordinators would be.
  JobLock first = JobLock::TryAcquire(db_.dsn(), "fake");
  ASSERT_EQ(first.state(), JobLock::State::kHeld) << first.error();
  JobLock second = JobLock::TryAcquire(db_.dsn(), "fake");
  EXPECT_EQ(second.state(), JobLock::State::kBusy);
  EXPECT_FALSE(second.held());
  // Another job's lock is independent.
  JobLock other = JobLock::TryAcquire(db_.dsn(), "other");
  EXPECT_EQ(other.state(), JobLock::State::kHeld);
  ASSERT_TRUE(first.Release().ok());
  EXPECT_EQ(JobLock::TryAcquire(db_.dsn(), "fake").state(), JobLock::State::kHeld);

  // Through two schedulers (two coordinators on one database): while one
  // runs the job, the other's run is refused and recorded as skipped.
  FakeJob* job_a = nullptr;
  FakeJob* job_b = nullptr;
  auto a = MakeScheduler(db_.dsn(), store_.get(), &job_a);
  auto b = MakeScheduler(db_.dsn(), store_.get(), &job_b);
  job_a->block = true;
  auto run_a = a->RunNow("fake");
  ASSERT_TRUE(run_a.ok()) << run_a.status();
  ASSERT_TRUE(job_a->WaitStarted(std::chrono::seconds(10)));
  // A second run in the same process is refused before it reaches the lock.
  EXPECT_EQ(a->RunNow("fake").status().code(), absl::StatusCode::kAlreadyExists);

  auto run_b = b->RunNow("fake");
  ASSERT_TRUE(run_b.ok()) << run_b.status();
  ASSERT_TRUE(b->WaitUntilIdle(std::chrono::seconds(10)));
  EXPECT_EQ(job_b->calls, 0) << "the second coordinator ran the job while the first held its lock";
  EXPECT_EQ(Outcome(*run_b), "skipped");
  EXPECT_EQ(Detail(*run_b), "lock held elsewhere");
  EXPECT_EQ(Outcome(*run_a), "running");

  job_a->Unblock();
  ASSERT_TRUE(a->WaitUntilIdle(std::chrono::seconds(10)));
  EXPECT_EQ(Outcome(*run_a), "succeeded");
  EXPECT_EQ(RunColumn(*run_a, "rows_upserted"), "3");
  EXPECT_EQ(RunColumn(*run_a, "upstream_calls"), "2");
  EXPECT_NE(RunColumn(*run_a, "finished_at"), "");
}

TEST_F(LockTest, UnreachableDatabaseSkipsTheRunFailClosed) {
  // The coordinator's view of the database goes through a proxy we can cut.
  auto [host, port] = DsnHostPort(db_.dsn());
  TcpProxy proxy(host, port);
  const std::string dsn = DsnWithHostPort(db_.dsn(), "127.0.0.1", proxy.port());
  auto pool = MakePool(dsn);
  JobRunStore store(pool.get());
  FakeJob* job = nullptr;
  auto scheduler = MakeScheduler(dsn, &store, &job);

  CapturingSink sink;
  proxy.SetUp(false);
  auto run = scheduler->RunNow("fake");
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(scheduler->WaitUntilIdle(std::chrono::seconds(20)));
  proxy.SetUp(true);

  EXPECT_EQ(job->calls, 0) << "the job ran although its lock could not be checked";
  EXPECT_EQ(db_.Count("SELECT count(*) FROM job_runs"), 0);
  auto jobs = scheduler->Jobs();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].skipped_fail_closed, 1);
  EXPECT_EQ(jobs[0].last_fail_closed_run_id, *run);
  EXPECT_TRUE(jobs[0].running_run_id.empty());

  bool critical = false;
  for (const auto& line : sink.lines()) {
    // libpq's multi-line messages are folded: a continuation line would
    // reach the log without the run id.
    EXPECT_EQ(line.text.find('\n'), std::string::npos) << line.text;
    if (line.severity == google::GLOG_ERROR && line.text.find("CRITICAL") != std::string::npos &&
        line.text.find("[run " + *run + "]") != std::string::npos) {
      critical = true;
    }
  }
  EXPECT_TRUE(critical) << "no CRITICAL error line carrying the run id";

  // Once the database is back the job runs again.
  auto again = scheduler->RunNow("fake");
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(scheduler->WaitUntilIdle(std::chrono::seconds(20)));
  EXPECT_EQ(job->calls, 1);
  EXPECT_EQ(Outcome(*again), "succeeded");
}

TEST_F(LockTest, FailingRunReleasesTheLock) {
  FakeJob* job = nullptr;
  auto scheduler = MakeScheduler(db_.dsn(), store_.get(), &job);
  job->result = absl::InternalError("upstream exploded");
  auto run = scheduler->RunNow("fake");
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(scheduler->WaitUntilIdle(std::chrono::seconds(10)));
  EXPECT_EQ(Outcome(*run), "failed");
  EXPECT_THAT(Detail(*run), HasSubstr("upstream exploded"));
  EXPECT_EQ(RunColumn(*run, "rows_upserted"), "3") << "a failed run keeps its counters";

  // Another coordinator can take the lock at once.
  JobLock lock = JobLock::TryAcquire(db_.dsn(), "fake");
  EXPECT_EQ(lock.state(), JobLock::State::kHeld) << lock.error();
  ASSERT_TRUE(lock.Release().ok());

  // And the same scheduler runs it again.
  job->result = absl::OkStatus();
  auto next = scheduler->RunNow("fake");
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE(scheduler->WaitUntilIdle(std::chrono::seconds(10)));
  EXPECT_EQ(Outcome(*next), "succeeded");
}

TEST_F(LockTest, ConnectTimeoutIsAddedToBothDsnForms) {
  EXPECT_EQ(DsnWithConnectTimeout("host=h dbname=d", std::chrono::seconds(3)),
            "host=h dbname=d connect_timeout=3");
  EXPECT_EQ(DsnWithConnectTimeout("postgresql://h/d", std::chrono::seconds(3)),
            "postgresql://h/d?connect_timeout=3");
  EXPECT_EQ(DsnWithConnectTimeout("postgres://h/d?sslmode=require", std::chrono::seconds(3)),
            "postgres://h/d?sslmode=require&connect_timeout=3");
  EXPECT_EQ(DsnWithConnectTimeout("host=h connect_timeout=9", std::chrono::seconds(3)),
            "host=h connect_timeout=9");
}

}  // namespace
}  // namespace sluice::testing
