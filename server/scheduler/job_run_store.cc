#include "server/scheduler/job_run_store.h"

#include "common/time_util.h"
#include "server/scheduler/scheduler_sql.h"

namespace sluice {
namespace {

// A row of scheduler_sql::kRecentRuns or kRecentRunsOfJob.
JobRunRow RowFrom(const pqxx::row& r) {
  JobRunRow out;
  out.run_id = r[0].c_str();
  out.job = r[1].c_str();
  out.started_at = FromUnixSeconds(r[2].as<double>());
  if (!r[3].is_null()) out.finished_at = FromUnixSeconds(r[3].as<double>());
  out.outcome = r[4].c_str();
  out.counters.tasks_queued = r[5].as<int64_t>();
  out.counters.upstream_calls = r[6].as<int64_t>();
  out.counters.rows_upserted = r[7].as<int64_t>();
  out.counters.cache_hits = r[8].as<int64_t>();
  out.counters.cache_misses = r[9].as<int64_t>();
  out.counters.errors = r[10].as<int64_t>();
  out.detail = r[11].c_str();
  return out;
}

}  // namespace

absl::Status JobRunStore::InsertRunning(const std::string& run_id, const std::string& job,
                                        TimePoint started) {
  return pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    w.exec_params(scheduler_sql::kInsertRunning, run_id, job, FormatRfc3339(started),
                  kOutcomeRunning);
    w.commit();
    return absl::OkStatus();
  });
}

absl::Status JobRunStore::InsertSkipped(const std::string& run_id, const std::string& job,
                                        TimePoint at, const std::string& detail) {
  return pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    w.exec_params(scheduler_sql::kInsertSkipped, run_id, job, FormatRfc3339(at), kOutcomeSkipped,
                  detail);
    w.commit();
    return absl::OkStatus();
  });
}

absl::Status JobRunStore::Finish(const std::string& run_id, const std::string& outcome,
                                 TimePoint finished, const JobCounters& c,
                                 const std::string& detail) {
  return pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    auto res = w.exec_params(scheduler_sql::kFinishRun, run_id, FormatRfc3339(finished), outcome,
                             c.tasks_queued, c.upstream_calls, c.rows_upserted, c.cache_hits,
                             c.cache_misses, c.errors, detail);
    if (res.affected_rows() != 1) return absl::NotFoundError("job run " + run_id + " has no row");
    w.commit();
    return absl::OkStatus();
  });
}

absl::Status JobRunStore::InsertOpen(const std::string& run_id, const std::string& job,
                                     TimePoint started, int64_t tasks_queued) {
  return pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    w.exec_params(scheduler_sql::kInsertOpen, run_id, job, FormatRfc3339(started),
                  kOutcomeRunning, tasks_queued);
    w.commit();
    return absl::OkStatus();
  });
}

absl::Status JobRunStore::SetTasksQueued(const std::string& run_id, int64_t tasks_queued) {
  return pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    w.exec_params(scheduler_sql::kSetTasksQueued, run_id, tasks_queued);
    w.commit();
    return absl::OkStatus();
  });
}

absl::Status JobRunStore::Close(const std::string& run_id, const std::string& job,
                                const std::string& outcome, TimePoint finished,
                                const JobCounters& c, const std::string& detail) {
  return pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    auto res = w.exec_params(scheduler_sql::kCloseRun, run_id, job, kOutcomeRunning,
                             FormatRfc3339(finished), outcome, c.upstream_calls, c.rows_upserted,
                             c.cache_hits, c.cache_misses, c.errors, detail);
    if (res.affected_rows() == 1) {
      w.commit();
      return absl::OkStatus();
    }
    auto row = w.exec_params(scheduler_sql::kRunJobAndOutcome, run_id);
    if (row.empty()) return absl::NotFoundError("run_id: no run " + run_id);
    const std::string has_job = row[0][0].c_str();
    const std::string has_outcome = row[0][1].c_str();
    if (has_job != job) {
      return absl::FailedPreconditionError("run_id: " + run_id + " is a run of " + has_job +
                                           ", not of " + job);
    }
    return absl::FailedPreconditionError("run_id: " + run_id + " is " + has_outcome +
                                         " already, not running");
  });
}

absl::StatusOr<std::vector<JobRunRow>> JobRunStore::ListRecent(const std::string& job, int limit) {
  std::vector<JobRunRow> out;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction r(conn);
    pqxx::result res = job.empty() ? r.exec_params(scheduler_sql::kRecentRuns, limit)
                                   : r.exec_params(scheduler_sql::kRecentRunsOfJob, job, limit);
    for (const auto& row : res) out.push_back(RowFrom(row));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<std::optional<TimePoint>> JobRunStore::LastSucceededStart(const std::string& job) {
  std::optional<TimePoint> out;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction r(conn);
    auto res = r.exec_params(scheduler_sql::kLastStartWithOutcome, job, kOutcomeSucceeded);
    if (!res.empty() && !res[0][0].is_null()) out = FromUnixSeconds(res[0][0].as<double>());
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace sluice
