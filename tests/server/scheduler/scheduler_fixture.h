// A migrated throwaway database with a JobRunStore, a FakeClock, a job whose
// behaviour each test sets (result, blocking, calls counted), and a glog sink
// that keeps the log lines a test wants to inspect.
#ifndef SLUICE_TESTS_SERVER_SCHEDULER_SCHEDULER_FIXTURE_H_
#define SLUICE_TESTS_SERVER_SCHEDULER_SCHEDULER_FIXTURE_H_

#include <glog/logging.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/scheduler/job_lock.h"
#include "server/scheduler/job_run_store.h"
#include "server/scheduler/scheduler.h"
#include "server/store/pg_pool.h"
#include "tests/support/migrated_pool.h"
#include "tests/support/test_database.h"

namespace sluice::testing {

// A job that counts its runs, logs a line, optionally blocks until Unblock()
// (or cancellation), and returns `result`.
class FakeJob final : public Job {
 public:
  explicit FakeJob(std::string name) : name_(std::move(name)) {}

  std::string name() const override { return name_; }
  absl::Status Run(JobContext& ctx) override {
    calls++;
    JOB_LOG(INFO, ctx.run_id()) << "fake job " << name_ << " working";
    ctx.counters().rows_upserted += 3;
    ctx.counters().upstream_calls += 2;
    std::unique_lock<std::mutex> lock(mu_);
    started_ = true;
    cv_.notify_all();
    if (block) {
      // Cancellation is a flag, not a notification: look at it often.
      while (!unblocked_ && !ctx.cancelled()) cv_.wait_for(lock, std::chrono::milliseconds(10));
      if (!unblocked_) return absl::CancelledError("cancelled");
    }
    return result;
  }

  void Unblock() {
    std::lock_guard<std::mutex> lock(mu_);
    unblocked_ = true;
    cv_.notify_all();
  }
  bool WaitStarted(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return started_; });
  }

  std::atomic<int> calls{0};
  std::atomic<bool> block{false};
  absl::Status result;  // set before the run

 private:
  const std::string name_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool unblocked_ = false;
};

// Keeps every log line sent while it is registered.
class CapturingSink final : public google::LogSink {
 public:
  CapturingSink() { google::AddLogSink(this); }
  ~CapturingSink() override { google::RemoveLogSink(this); }

  void send(google::LogSeverity severity, const char* full_filename, const char* base_filename,
            int line, const google::LogMessageTime& time, const char* message,
            size_t message_len) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back({severity, std::string(message, message_len)});
  }

  struct Line {
    google::LogSeverity severity;
    std::string text;
  };
  std::vector<Line> lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Line> lines_;
};

class SchedulerFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = MigratedPool(PoolOptions(db_.dsn()));
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
    store_ = std::make_unique<JobRunStore>(pool_.get());
  }

  static PgPool::Options PoolOptions(const std::string& dsn) {
    PgPool::Options o;
    o.dsn = dsn;
    o.size = 4;
    o.checkout_timeout = std::chrono::milliseconds(2000);
    return o;
  }
  static std::unique_ptr<PgPool> MakePool(const std::string& dsn) {
    return std::make_unique<PgPool>(PoolOptions(dsn));
  }

  // Manual runs only, quick stop and lock timeouts.
  static SchedulerOptions ManualOptions() {
    SchedulerOptions o;
    o.enabled = false;
    o.stop_deadline = std::chrono::milliseconds(2000);
    o.lock_connect_timeout = std::chrono::seconds(2);
    o.tick = std::chrono::milliseconds(20);
    return o;
  }

  // A scheduler with one FakeJob; *job points at it.
  std::unique_ptr<Scheduler> MakeScheduler(const std::string& dsn, JobRunStore* store,
                                           FakeJob** job, const std::string& name = "fake",
                                           SchedulerOptions options = ManualOptions()) {
    auto s = std::make_unique<Scheduler>(dsn, store, &clock_, options);
    auto j = std::make_unique<FakeJob>(name);
    *job = j.get();
    s->AddJob(std::move(j), std::chrono::hours(1));
    s->Start();
    return s;
  }

  // A column of the run's job_runs row as text; "" if there is no row.
  std::string RunColumn(const std::string& run_id, const std::string& column) {
    pqxx::connection c(db_.dsn());
    pqxx::nontransaction nt(c);
    auto r = nt.exec_params(
        "SELECT coalesce(" + column + "::text, '') FROM job_runs WHERE run_id = $1", run_id);
    return r.empty() ? "" : r[0][0].c_str();
  }
  std::string Outcome(const std::string& run_id) { return RunColumn(run_id, "outcome"); }
  std::string Detail(const std::string& run_id) { return RunColumn(run_id, "detail"); }

  FakeClock clock_{FromUnixSeconds(1'800'000'000)};  // 2027-01-15T08:00:00Z
  TestDatabase db_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<JobRunStore> store_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SERVER_SCHEDULER_SCHEDULER_FIXTURE_H_
