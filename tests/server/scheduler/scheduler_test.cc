// The scheduler: run ids on every log line, periodic runs that follow the
// clock, argument errors naming the field, and a clean stop.
#include <gmock/gmock.h>

#include "tests/server/scheduler/scheduler_fixture.h"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

class SchedulerTest : public SchedulerFixture {
 protected:
  // Advances the fake clock and waits (real time) until a run of `job` has
  // started and the scheduler is idle again.
  void AdvanceAndSettle(FakeJob* job, Scheduler* s, Duration d, int expected_calls) {
    clock_.Advance(d);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (job->calls < expected_calls && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(s->WaitUntilIdle(std::chrono::seconds(10)));
  }
};

TEST_F(SchedulerTest, EveryLogLineCarriesTheRunId) {
  FakeJob* job = nullptr;
  auto scheduler = MakeScheduler(db_.dsn(), store_.get(), &job);
  CapturingSink sink;
  auto run = scheduler->RunNow("fake");
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(scheduler->WaitUntilIdle(std::chrono::seconds(10)));
  EXPECT_THAT(*run, MatchesRegex("fake-20270115T080000-[0-9a-f]{6}"));

  int lines_of_run = 0;
  for (const auto& line : sink.lines()) {
    // Every line about this job belongs to the run and starts with its id.
    if (line.text.find("fake") == std::string::npos) continue;
    EXPECT_EQ(line.text.rfind("[run " + *run + "] ", 0), 0u) << line.text;
    ++lines_of_run;
  }
  // requested, starting, lock taken, the job's own line, succeeded, lock released
  EXPECT_GE(lines_of_run, 5);
}

TEST_F(SchedulerTest, PeriodicRunsFollowTheClock) {
  SchedulerOptions o = ManualOptions();
  o.enabled = true;
  o.initial_delay = std::chrono::seconds(60);
  FakeJob* job = nullptr;
  auto scheduler = MakeScheduler(db_.dsn(), store_.get(), &job, "fake", o);  // every hour
  auto jobs = scheduler->Jobs();
  ASSERT_EQ(jobs.size(), 1u);
  ASSERT_TRUE(jobs[0].next_run_at.has_value());
  EXPECT_EQ(*jobs[0].next_run_at, clock_.Now() + std::chrono::seconds(60));

  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(job->calls, 0) << "ran before its initial delay";
  AdvanceAndSettle(job, scheduler.get(), std::chrono::seconds(61), 1);
  EXPECT_EQ(job->calls, 1);
  AdvanceAndSettle(job, scheduler.get(), std::chrono::minutes(30), 1);
  EXPECT_EQ(job->calls, 1) << "ran again before its interval";
  AdvanceAndSettle(job, scheduler.get(), std::chrono::minutes(31), 2);
  EXPECT_EQ(job->calls, 2);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM job_runs WHERE outcome = 'succeeded'"), 2);
}

TEST_F(SchedulerTest, RestartContinuesFromTheLastSucceededRun) {
  FakeJob* job = nullptr;
  auto first = MakeScheduler(db_.dsn(), store_.get(), &job);
  ASSERT_TRUE(first->RunNow("fake").ok());
  ASSERT_TRUE(first->WaitUntilIdle(std::chrono::seconds(10)));
  first->Stop();

  // Restarted ten minutes later: the hourly job is next due an hour after
  // its last run, not one initial delay after the restart.
  const TimePoint last_run = clock_.Now();
  clock_.Advance(std::chrono::minutes(10));
  SchedulerOptions o = ManualOptions();
  o.enabled = true;
  o.initial_delay = std::chrono::seconds(60);
  auto second = MakeScheduler(db_.dsn(), store_.get(), &job, "fake", o);
  auto jobs = second->Jobs();
  ASSERT_EQ(jobs.size(), 1u);
  ASSERT_TRUE(jobs[0].next_run_at.has_value());
  EXPECT_EQ(
      std::chrono::duration_cast<std::chrono::seconds>(*jobs[0].next_run_at - last_run).count(),
      3600);
}

TEST_F(SchedulerTest, RunNowNamesTheFieldOnBadNames) {
  FakeJob* job = nullptr;
  auto scheduler = MakeScheduler(db_.dsn(), store_.get(), &job);
  auto empty = scheduler->RunNow("");
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(empty.status().message()), HasSubstr("name"));
  auto bad = scheduler->RunNow("Robert'); DROP TABLE job_runs;--");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  auto unknown = scheduler->RunNow("no_such_job");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("name"));
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("fake"));  // lists the jobs
  EXPECT_EQ(scheduler->ListRuns("no_such_job", 10).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(scheduler->ListRuns("", -1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(job->calls, 0);
}

TEST_F(SchedulerTest, StopCancelsARunInProgressAndReleasesItsLock) {
  FakeJob* job = nullptr;
  auto scheduler = MakeScheduler(db_.dsn(), store_.get(), &job);
  job->block = true;  // returns only when unblocked or cancelled
  auto run = scheduler->RunNow("fake");
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(job->WaitStarted(std::chrono::seconds(10)));
  scheduler->Stop();  // must not hang: the job sees the cancellation
  EXPECT_EQ(Outcome(*run), "failed");
  EXPECT_THAT(Detail(*run), HasSubstr("CANCELLED"));
  EXPECT_EQ(JobLock::TryAcquire(db_.dsn(), "fake").state(), JobLock::State::kHeld);
  EXPECT_EQ(scheduler->RunNow("fake").status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace sluice::testing
