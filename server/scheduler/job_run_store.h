// JobRunStore keeps the job_runs table: a row per run, inserted as 'running'
// when the run starts and finished with its outcome and counters, and the
// recent runs for `sluicectl jobs`.
//
// Ownership: borrows the pool. Thread-safety: safe from any thread.
#ifndef SLUICE_SERVER_SCHEDULER_JOB_RUN_STORE_H_
#define SLUICE_SERVER_SCHEDULER_JOB_RUN_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/scheduler/job.h"
#include "server/store/pg_pool.h"

namespace sluice {

// The outcome column's values.
inline constexpr char kOutcomeRunning[] = "running";
inline constexpr char kOutcomeSucceeded[] = "succeeded";
inline constexpr char kOutcomeFailed[] = "failed";
inline constexpr char kOutcomeSkipped[] = "skipped";

struct JobRunRow {
  std::string run_id;
  std::string job;
  TimePoint started_at;
  std::optional<TimePoint> finished_at;
  std::string outcome;
  JobCounters counters;
  std::string detail;
};

class JobRunStore {
 public:
  explicit JobRunStore(PgPool* pool) : pool_(pool) {}

  absl::Status InsertRunning(const std::string& run_id, const std::string& job, TimePoint started);
  // A run that did not start because another coordinator holds the lock.
  absl::Status InsertSkipped(const std::string& run_id, const std::string& job, TimePoint at,
                             const std::string& detail);
  // outcome: kOutcomeSucceeded or kOutcomeFailed. NOT_FOUND if the run has
  // no row.
  absl::Status Finish(const std::string& run_id, const std::string& outcome, TimePoint finished,
                      const JobCounters& counters, const std::string& detail);
  // A driven run (Scheduler::OpenDrivenRun): 'running', with the tasks its
  // start queued.
  absl::Status InsertOpen(const std::string& run_id, const std::string& job, TimePoint started,
                          int64_t tasks_queued);
  // Sets the tasks a driven run's start queued.
  absl::Status SetTasksQueued(const std::string& run_id, int64_t tasks_queued);
  // Ends a running run of `job` (outcome: kOutcomeSucceeded or
  // kOutcomeFailed), keeping its tasks_queued. NOT_FOUND if the run has no
  // row; FAILED_PRECONDITION if it is another job's or not running.
  absl::Status Close(const std::string& run_id, const std::string& job, const std::string& outcome,
                     TimePoint finished, const JobCounters& counters, const std::string& detail);
  // Newest first; job empty means every job.
  absl::StatusOr<std::vector<JobRunRow>> ListRecent(const std::string& job, int limit);
  // Start of the job's latest succeeded run, if any: the schedule continues
  // from it after a restart instead of re-running a daily job at every deploy.
  absl::StatusOr<std::optional<TimePoint>> LastSucceededStart(const std::string& job);

 private:
  PgPool* const pool_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_SCHEDULER_JOB_RUN_STORE_H_
