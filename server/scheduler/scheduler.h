// Scheduler runs the coordinator's named periodic jobs (job.h). One
// scheduling thread keeps each job's interval and next-due time; each run
// gets its own thread, so a long job (contract aggregation) never delays
// another job, while one job never has two runs at once in this process.
//
// Every run:
//   - gets a run id "<job>-<yyyymmddThhmmss>-<6 hex>" that starts each of its
//     log lines ("[run <id>]", JOB_LOG);
//   - takes the job's PostgreSQL advisory lock (JobLock) on a dedicated
//     connection, so no two runs of a job overlap across coordinators;
//   - fails closed (seed 004): if the lock cannot be checked the job does not
//     run; the skip is logged as CRITICAL and counted in JobStatus, but not
//     written (the database is what is unreachable). A lock held elsewhere
//     is recorded as 'skipped' with detail "lock held elsewhere";
//   - writes a job_runs row ('running', then 'succeeded' or 'failed' with the
//     error and the job's counters), and always releases the lock.
//
// Ownership: owns the jobs; borrows the store and clock, which must outlive
// it. Thread-safety: all public methods are safe from any thread; AddJob only
// before Start.
#ifndef SLUICE_SERVER_SCHEDULER_SCHEDULER_H_
#define SLUICE_SERVER_SCHEDULER_SCHEDULER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/scheduler/job.h"
#include "server/scheduler/job_run_store.h"

namespace sluice {

struct SchedulerOptions {
  // Periodic runs. When false, jobs run only when asked (RunNow, `sluicectl
  // jobs run`): tests and manual operation.
  bool enabled = true;
  // From Start to a job's first periodic run, unless the job's last
  // succeeded run is more recent than its interval (then the schedule
  // continues from that run, so a restart does not re-run a daily job).
  Duration initial_delay = std::chrono::seconds(60);
  // How long Stop lets runs in progress finish before saying so in the log;
  // it then still waits for them (they have been told to cancel).
  std::chrono::milliseconds stop_deadline{10000};
  std::chrono::seconds lock_connect_timeout{5};
  // Longest sleep between looks at the clock (the clock may be a FakeClock).
  std::chrono::milliseconds tick{1000};
};

struct JobStatus {
  std::string name;
  Duration interval{};
  std::optional<TimePoint> next_run_at;  // unset when periodic runs are off
  std::string running_run_id;            // empty when not running here
  // Runs not started because the lock could not be checked (fail closed).
  int64_t skipped_fail_closed = 0;
  std::string last_fail_closed_run_id;
};

class Scheduler {
 public:
  // lock_dsn: where job locks are taken (the coordinator's database).
  Scheduler(std::string lock_dsn, JobRunStore* store, const Clock* clock, SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Registers a job before Start; interval must be positive.
  void AddJob(std::unique_ptr<Job> job, Duration interval);
  void Start();
  // Stops scheduling, cancels runs in progress (JobContext::cancelled) and
  // waits for them. Idempotent.
  void Stop();

  // Starts a run of the job now and returns its run id. INVALID_ARGUMENT for
  // a malformed name, NOT_FOUND for an unknown job, ALREADY_EXISTS if the job
  // is running in this process, UNAVAILABLE while stopping.
  absl::StatusOr<std::string> RunNow(const std::string& name);

  std::vector<JobStatus> Jobs() const;
  // Recent runs, newest first; job empty = all jobs (NOT_FOUND if unknown);
  // limit 0 = 20, at most 1000.
  absl::StatusOr<std::vector<JobRunRow>> ListRuns(const std::string& job, int limit) const;

  // Waits until no run is in progress in this process; false on timeout.
  bool WaitUntilIdle(std::chrono::milliseconds timeout);

  // Driven runs: work another party drives and ends (the daily sequence
  // that `sluicectl daily` starts and follows, AdminService.StartDaily /
  // FinishDaily), recorded in job_runs like a job's runs, under run ids of
  // the same form. The scheduler runs nothing for them and takes no lock:
  // the driver decides when the run is over.
  //
  // Registers a driven job's name before Start ([a-z0-9_]+, not a scheduled
  // job's); ListRuns then accepts it.
  void AddDrivenJob(const std::string& name);
  // A new run id of a driven job; NOT_FOUND for a name not registered.
  absl::StatusOr<std::string> NewDrivenRunId(const std::string& job);
  // Records the run as running from `started`, then calls `start` to queue
  // its tasks under its run id (the queue refers to the run's row, so they
  // carry the id to the agents) and records how many it queued. Should
  // `start` fail, the run is recorded failed with its error, which is
  // returned. Returns the tasks queued.
  absl::StatusOr<int64_t> OpenDrivenRun(const std::string& run_id, const std::string& job,
                                        TimePoint started,
                                        const std::function<absl::StatusOr<int64_t>()>& start);
  // Ends a run OpenDrivenRun recorded: succeeded, or failed with `detail`;
  // the counters as the driver counted them (tasks_queued is kept from the
  // open). Returns when it ended. NOT_FOUND if there is no such run,
  // FAILED_PRECONDITION if it is another job's or not running.
  absl::StatusOr<TimePoint> CloseDrivenRun(const std::string& run_id, const std::string& job,
                                           bool failed, const JobCounters& counters,
                                           const std::string& detail);

 private:
  struct Entry {
    std::unique_ptr<Job> job;
    Duration interval{};
    std::optional<TimePoint> next_due;
    std::string running_run_id;
    std::thread runner;  // the latest run's thread; joined before the next
    int64_t skipped_fail_closed = 0;
    std::string last_fail_closed_run_id;
  };

  void Loop();
  // Starts a run thread for e. mu_ held.
  void LaunchLocked(Entry& e, const std::string& run_id);
  // The whole life of one run, on its thread.
  void Execute(Entry* e, const std::string& run_id);
  void CountFailClosed(Entry* e, const std::string& run_id);
  std::string NewRunIdLocked(const std::string& job, TimePoint now);
  bool AnyRunningLocked() const;

  const std::string lock_dsn_;
  JobRunStore* const store_;
  const Clock* const clock_;
  const SchedulerOptions options_;
  std::atomic<bool> cancelled_{false};

  mutable std::mutex mu_;
  std::condition_variable cv_;            // wakes the loop; signals the end of a run
  std::map<std::string, Entry> entries_;  // a map: Entry addresses are stable
  std::set<std::string> driven_;          // AddDrivenJob's names
  bool started_ = false;
  bool stopping_ = false;
  std::mt19937_64 rng_;  // run id suffixes
  std::thread loop_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_SCHEDULER_SCHEDULER_H_
