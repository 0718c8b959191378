// Job is one named periodic piece of coordinator work (the daily ESI
// sequence, snapshots, and later killmail sync and contract aggregation).
// The Scheduler runs it under a PostgreSQL advisory lock, gives each run a
// run id, and records a job_runs row from the counters the job fills in.
//
// Ownership: the Scheduler owns its jobs. A JobContext lives for one run and
// borrows the clock and the scheduler's cancellation flag.
// Thread-safety: Run is called from one run thread at a time per job (the
// lock guarantees one run per job across coordinators, the scheduler one per
// job locally); a JobContext is used by that run only.
#ifndef SLUICE_SERVER_SCHEDULER_JOB_H_
#define SLUICE_SERVER_SCHEDULER_JOB_H_

#include <glog/logging.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "common/clock.h"

namespace sluice {

// What a run did, as stored in its job_runs row. Jobs add to what applies.
struct JobCounters {
  int64_t tasks_queued = 0;
  int64_t upstream_calls = 0;
  int64_t rows_upserted = 0;
  int64_t cache_hits = 0;
  int64_t cache_misses = 0;
  // Errors the run recovered from (e.g. one bad contract skipped); a run that
  // cannot go on returns an error status instead.
  int64_t errors = 0;
};

class JobContext {
 public:
  JobContext(std::string run_id, const Clock* clock, const std::atomic<bool>* cancelled)
      : run_id_(std::move(run_id)), clock_(clock), cancelled_(cancelled) {}

  const std::string& run_id() const { return run_id_; }
  JobCounters& counters() { return counters_; }
  const JobCounters& counters() const { return counters_; }
  const Clock* clock() const { return clock_; }
  // True once the coordinator is stopping: a long job should return (with
  // absl::CancelledError) at its next safe point.
  bool cancelled() const { return cancelled_->load(std::memory_order_relaxed); }

 private:
  const std::string run_id_;
  const Clock* const clock_;
  const std::atomic<bool>* const cancelled_;
  JobCounters counters_;
};

class Job {
 public:
  virtual ~Job() = default;
  // Stable, lowercase [a-z0-9_]+: it names the lock, the job_runs rows and
  // the CLI argument.
  virtual std::string name() const = 0;
  // One run. OK -> 'succeeded'; an error -> 'failed' with the message.
  virtual absl::Status Run(JobContext& ctx) = 0;
};

}  // namespace sluice

// Logs one line of a run, prefixed "[run <run_id>] " so every line of a run
// can be found by its id (grep the run id from `sluicectl jobs`).
#define JOB_LOG(severity, run_id) LOG(severity) << "[run " << (run_id) << "] "

#endif  // SLUICE_SERVER_SCHEDULER_JOB_H_
