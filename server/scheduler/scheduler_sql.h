// Every statement of the scheduler's stores by name: the job locks
// (JobLock) and the job_runs table (JobRunStore). Outcomes (kOutcome*) and
// the lock class (lock_keys::kJobClass) are bound, never spelled here.
#ifndef SLUICE_SERVER_SCHEDULER_SCHEDULER_SQL_H_
#define SLUICE_SERVER_SCHEDULER_SCHEDULER_SQL_H_

namespace sluice::scheduler_sql {

// hashtext gives a stable int4 per name; the prefix keeps these names apart
// from anything else that might hash strings into this class later.
// $1 lock class, $2 job name.
inline constexpr char kTryLock[] =
    "SELECT pg_try_advisory_lock($1::int4, hashtext('sluice.job.' || $2::text))";
// $1 lock class, $2 job name.
inline constexpr char kUnlock[] =
    "SELECT pg_advisory_unlock($1::int4, hashtext('sluice.job.' || $2::text))";

// $1 run id, $2 job, $3 started, $4 outcome (running).
inline constexpr char kInsertRunning[] = R"sql(
INSERT INTO job_runs (run_id, job, started_at, outcome)
VALUES ($1, $2, $3::timestamptz, $4))sql";

// A run that never started: finished when it began. $1 run id, $2 job, $3 at,
// $4 outcome (skipped), $5 detail.
inline constexpr char kInsertSkipped[] = R"sql(
INSERT INTO job_runs (run_id, job, started_at, finished_at, outcome, detail)
VALUES ($1, $2, $3::timestamptz, $3::timestamptz, $4, $5))sql";

// $1 run id, $2 finished, $3 outcome, $4 tasks queued, $5 upstream calls,
// $6 rows upserted, $7 cache hits, $8 cache misses, $9 errors, $10 detail
// ('' = none).
inline constexpr char kFinishRun[] = R"sql(
UPDATE job_runs SET finished_at = $2::timestamptz, outcome = $3, tasks_queued = $4,
       upstream_calls = $5, rows_upserted = $6, cache_hits = $7, cache_misses = $8,
       errors = $9, detail = nullif($10, '')
 WHERE run_id = $1)sql";

// A driven run, opened with the tasks its start queued. $1 run id, $2 job,
// $3 started, $4 outcome (running), $5 tasks queued.
inline constexpr char kInsertOpen[] = R"sql(
INSERT INTO job_runs (run_id, job, started_at, outcome, tasks_queued)
VALUES ($1, $2, $3::timestamptz, $4, $5))sql";

// The tasks a driven run's start queued, once queued (the run is recorded
// first, so they can refer to it). $1 run id, $2 tasks queued.
inline constexpr char kSetTasksQueued[] =
    "UPDATE job_runs SET tasks_queued = $2 WHERE run_id = $1";

// Ends a driven run, only while it is running as a run of that job; its
// tasks_queued stays as opened. $1 run id, $2 job, $3 running, $4 finished,
// $5 outcome, $6 upstream calls, $7 rows upserted, $8 cache hits, $9 cache
// misses, $10 errors, $11 detail ('' = none).
inline constexpr char kCloseRun[] = R"sql(
UPDATE job_runs SET finished_at = $4::timestamptz, outcome = $5, upstream_calls = $6,
       rows_upserted = $7, cache_hits = $8, cache_misses = $9, errors = $10,
       detail = nullif($11, '')
 WHERE run_id = $1 AND job = $2 AND outcome = $3)sql";

// Why a close matched no row. $1 run id.
inline constexpr char kRunJobAndOutcome[] =
    "SELECT job, outcome FROM job_runs WHERE run_id = $1";

// Two statements, not one with an optional filter, so each uses its index:
// (started_at) here, (job, started_at) below. Both return the columns
// JobRunStore's RowFrom reads, in its order. $1 limit.
inline constexpr char kRecentRuns[] = R"sql(
SELECT run_id, job, extract(epoch FROM started_at)::float8,
       extract(epoch FROM finished_at)::float8, outcome, tasks_queued, upstream_calls,
       rows_upserted, cache_hits, cache_misses, errors, coalesce(detail, '')
  FROM job_runs
 ORDER BY started_at DESC, run_id DESC LIMIT $1)sql";

// $1 job, $2 limit.
inline constexpr char kRecentRunsOfJob[] = R"sql(
SELECT run_id, job, extract(epoch FROM started_at)::float8,
       extract(epoch FROM finished_at)::float8, outcome, tasks_queued, upstream_calls,
       rows_upserted, cache_hits, cache_misses, errors, coalesce(detail, '')
  FROM job_runs
 WHERE job = $1 ORDER BY started_at DESC, run_id DESC LIMIT $2)sql";

// $1 job, $2 outcome (succeeded).
inline constexpr char kLastStartWithOutcome[] = R"sql(
SELECT extract(epoch FROM max(started_at))::float8 FROM job_runs
 WHERE job = $1 AND outcome = $2)sql";

}  // namespace sluice::scheduler_sql

#endif  // SLUICE_SERVER_SCHEDULER_SCHEDULER_SQL_H_
