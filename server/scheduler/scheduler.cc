#include "server/scheduler/scheduler.h"

#include <glog/logging.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "common/logging/log_context.h"
#include "common/logging/log_line.h"
#include "common/text.h"
#include "common/time_util.h"
#include "server/scheduler/job_lock.h"

namespace sluice {
namespace {

constexpr int kDefaultListLimit = 20;
constexpr int kMaxListLimit = 1000;
constexpr char kLockHeldElsewhere[] = "lock held elsewhere";

bool ValidJobName(const std::string& name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// A status as one line, for job_runs.detail (log lines are folded by the
// sink anyway): libpq's messages span lines.
std::string OneLine(const absl::Status& s) { return logging::FoldLines(s.ToString()); }

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

std::string CounterSummary(const JobCounters& c) {
  char buf[200];
  std::snprintf(buf, sizeof(buf),
                "tasks_queued=%lld upstream_calls=%lld rows_upserted=%lld cache_hits=%lld "
                "cache_misses=%lld errors=%lld",
                static_cast<long long>(c.tasks_queued), static_cast<long long>(c.upstream_calls),
                static_cast<long long>(c.rows_upserted), static_cast<long long>(c.cache_hits),
                static_cast<long long>(c.cache_misses), static_cast<long long>(c.errors));
  return buf;
}

}  // namespace

Scheduler::Scheduler(std::string lock_dsn, JobRunStore* store, const Clock* clock,
                     SchedulerOptions options)
    : lock_dsn_(std::move(lock_dsn)),
      store_(store),
      clock_(clock),
      options_(options),
      rng_(std::random_device{}()) {}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::AddJob(std::unique_ptr<Job> job, Duration interval) {
  std::lock_guard<std::mutex> lock(mu_);
  CHECK(!started_) << "AddJob after Start";
  CHECK(interval > Duration::zero()) << "job " << job->name() << ": interval must be positive";
  const std::string name = job->name();
  CHECK(ValidJobName(name)) << "job name '" << name << "' is not [a-z0-9_]+";
  Entry& e = entries_[name];
  CHECK(!e.job) << "job " << name << " added twice";
  e.job = std::move(job);
  e.interval = interval;
}

void Scheduler::Start() {
  std::vector<std::pair<std::string, Duration>> jobs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return;
    started_ = true;
    for (const auto& [name, e] : entries_) jobs.emplace_back(name, e.interval);
  }
  if (options_.enabled) {
    const TimePoint now = clock_->Now();
    for (const auto& [name, interval] : jobs) {
      TimePoint due = now + options_.initial_delay;
      auto last = store_->LastSucceededStart(name);
      if (!last.ok()) {
        LOG(WARNING) << "job " << name << ": last run unknown (" << last.status()
                     << "), first run after the initial delay";
      } else if (last->has_value()) {
        due = std::max(due, **last + interval);
      }
      LOG(INFO) << "job " << name << " every " << Seconds(interval) << "s, next run at "
                << FormatRfc3339(due);
      std::lock_guard<std::mutex> lock(mu_);
      entries_[name].next_due = due;
    }
  } else {
    LOG(INFO) << "periodic jobs disabled; " << jobs.size() << " job(s) run only when asked";
  }
  loop_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  bool was_started;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    was_started = started_;
  }
  cancelled_ = true;
  cv_.notify_all();
  if (loop_.joinable()) loop_.join();
  std::vector<std::thread> runners;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, options_.stop_deadline, [&] { return !AnyRunningLocked(); })) {
      for (const auto& [name, e] : entries_) {
        if (e.running_run_id.empty()) continue;
        JOB_LOG(WARNING, e.running_run_id)
            << "job " << name << " still running " << options_.stop_deadline.count()
            << " ms after stop was requested; waiting for it to return (it was told to cancel)";
      }
    }
    for (auto& [name, e] : entries_) {
      if (e.runner.joinable()) runners.push_back(std::move(e.runner));
    }
  }
  for (auto& t : runners) t.join();
  if (was_started) LOG(INFO) << "scheduler stopped";
}

absl::StatusOr<std::string> Scheduler::RunNow(const std::string& name) {
  if (!ValidJobName(name)) {
    return absl::InvalidArgumentError("name: a job name is [a-z0-9_]+, got '" + name + "'");
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    std::string known;
    for (const auto& [n, e] : entries_) known += (known.empty() ? "" : ", ") + n;
    return absl::NotFoundError("name: no job named '" + name + "' (jobs: " + known + ")");
  }
  if (stopping_ || !started_) return absl::UnavailableError("scheduler is not running");
  Entry& e = it->second;
  if (!e.running_run_id.empty()) {
    return absl::AlreadyExistsError("name: job " + name + " is already running as run " +
                                    e.running_run_id);
  }
  const std::string run_id = NewRunIdLocked(name, clock_->Now());
  JOB_LOG(INFO, run_id) << "run of job " << name << " requested";
  LaunchLocked(e, run_id);
  return run_id;
}

std::vector<JobStatus> Scheduler::Jobs() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<JobStatus> out;
  for (const auto& [name, e] : entries_) {
    JobStatus s;
    s.name = name;
    s.interval = e.interval;
    s.next_run_at = e.next_due;
    s.running_run_id = e.running_run_id;
    s.skipped_fail_closed = e.skipped_fail_closed;
    s.last_fail_closed_run_id = e.last_fail_closed_run_id;
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::vector<JobRunRow>> Scheduler::ListRuns(const std::string& job,
                                                           int limit) const {
  if (limit < 0) return absl::InvalidArgumentError("limit: must not be negative");
  if (limit == 0) limit = kDefaultListLimit;
  limit = std::min(limit, kMaxListLimit);
  if (!job.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!entries_.count(job) && !driven_.count(job)) {
      return absl::NotFoundError("job: no job named '" + job + "'");
    }
  }
  return store_->ListRecent(job, limit);
}

void Scheduler::AddDrivenJob(const std::string& name) {
  CHECK(ValidJobName(name)) << "job name '" << name << "' is not [a-z0-9_]+";
  std::lock_guard<std::mutex> lock(mu_);
  CHECK(!started_) << "AddDrivenJob after Start";
  CHECK(!entries_.count(name)) << "job " << name << " is scheduled already";
  driven_.insert(name);
}

absl::StatusOr<std::string> Scheduler::NewDrivenRunId(const std::string& job) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!driven_.count(job)) return absl::NotFoundError("no driven job named '" + job + "'");
  return NewRunIdLocked(job, clock_->Now());
}

absl::StatusOr<int64_t> Scheduler::OpenDrivenRun(
    const std::string& run_id, const std::string& job, TimePoint started,
    const std::function<absl::StatusOr<int64_t>()>& start) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!driven_.count(job)) return absl::NotFoundError("no driven job named '" + job + "'");
  }
  logging::LogIds ids;
  ids.run_id = run_id;
  logging::ScopedLogIds log_ids(ids);
  // Recorded before its tasks are queued: they refer to its row.
  absl::Status s = store_->InsertOpen(run_id, job, started, 0);
  // A pooled connection broken by an earlier outage fails once and is
  // dropped; the retry gets a fresh one.
  if (absl::IsUnavailable(s)) s = store_->InsertOpen(run_id, job, started, 0);
  if (!s.ok()) return s;
  absl::StatusOr<int64_t> queued = start();
  if (!queued.ok()) {
    auto closed = CloseDrivenRun(run_id, job, true, JobCounters{},
                                 "queueing its tasks failed: " + queued.status().ToString());
    if (!closed.ok()) JOB_LOG(ERROR, run_id) << "run not closed: " << OneLine(closed.status());
    return queued.status();
  }
  s = store_->SetTasksQueued(run_id, *queued);
  if (!s.ok()) return s;
  JOB_LOG(INFO, run_id) << "run of " << job << " opened: " << *queued << " task(s) queued";
  return *queued;
}

absl::StatusOr<TimePoint> Scheduler::CloseDrivenRun(const std::string& run_id,
                                                    const std::string& job, bool failed,
                                                    const JobCounters& counters,
                                                    const std::string& detail) {
  logging::LogIds ids;
  ids.run_id = run_id;
  logging::ScopedLogIds log_ids(ids);
  const TimePoint finished = clock_->Now();
  // job_runs.detail: one line, storable, bounded (a driver's text).
  const std::string stored = SanitizeForStorage(logging::FoldLines(detail), 4096);
  absl::Status s = store_->Close(run_id, job, failed ? kOutcomeFailed : kOutcomeSucceeded,
                                 finished, counters, stored);
  if (!s.ok()) return s;
  JOB_LOG(INFO, run_id) << "run of " << job << (failed ? " failed" : " succeeded") << ": "
                        << CounterSummary(counters) << (stored.empty() ? "" : ": ") << stored;
  return finished;
}

bool Scheduler::WaitUntilIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return !AnyRunningLocked(); });
}

bool Scheduler::AnyRunningLocked() const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [](const auto& kv) { return !kv.second.running_run_id.empty(); });
}

std::string Scheduler::NewRunIdLocked(const std::string& job, TimePoint now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char when[32];
  std::strftime(when, sizeof(when), "%Y%m%dT%H%M%S", &tm);
  char suffix[8];
  std::snprintf(suffix, sizeof(suffix), "%06x", static_cast<unsigned>(rng_() & 0xffffff));
  return job + "-" + when + "-" + suffix;
}

void Scheduler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    const TimePoint now = clock_->Now();
    Duration wait = options_.tick;
    for (auto& [name, e] : entries_) {
      if (!e.next_due) continue;
      if (now >= *e.next_due) {
        e.next_due = now + e.interval;
        if (!e.running_run_id.empty()) {
          // This process is still in the previous run: the lock would refuse
          // the new one anyway, so do not even try.
          JOB_LOG(WARNING, e.running_run_id)
              << "job " << name << " still running at its next periodic time; that run is skipped";
        } else {
          LaunchLocked(e, NewRunIdLocked(name, now));
        }
      }
      wait = std::min(wait, *e.next_due - now);
    }
    cv_.wait_for(lock, std::max(wait, Duration(std::chrono::milliseconds(10))));
  }
}

void Scheduler::LaunchLocked(Entry& e, const std::string& run_id) {
  // The previous run has cleared running_run_id, its last use of mu_, so
  // this join returns at once.
  if (e.runner.joinable()) e.runner.join();
  e.running_run_id = run_id;
  e.runner = std::thread([this, entry = &e, run_id] { Execute(entry, run_id); });
}

void Scheduler::CountFailClosed(Entry* e, const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ++e->skipped_fail_closed;
  e->last_fail_closed_run_id = run_id;
}

void Scheduler::Execute(Entry* e, const std::string& run_id) {
  // Every line this run's thread logs carries its id (JSON logs: run_id).
  logging::LogIds ids;
  ids.run_id = run_id;
  logging::ScopedLogIds log_ids(ids);
  const std::string name = e->job->name();
  const TimePoint started = clock_->Now();
  JOB_LOG(INFO, run_id) << "job " << name << " starting";
  {
    JobLock lock = JobLock::TryAcquire(lock_dsn_, name, options_.lock_connect_timeout);
    switch (lock.state()) {
      case JobLock::State::kUnavailable:
        // Fail closed (seed 004): without the lock another coordinator may be
        // running this job; running it here too is worse than not running.
        JOB_LOG(ERROR, run_id) << "CRITICAL: job " << name
                               << " not run: its lock could not be checked (fail closed): "
                               << OneLine(lock.error());
        CountFailClosed(e, run_id);
        break;
      case JobLock::State::kBusy: {
        JOB_LOG(WARNING, run_id) << "job " << name << " skipped: " << kLockHeldElsewhere
                                 << " (another run of it is in progress)";
        absl::Status s = store_->InsertSkipped(run_id, name, started, kLockHeldElsewhere);
        if (!s.ok()) JOB_LOG(ERROR, run_id) << "skipped run not recorded: " << OneLine(s);
        break;
      }
      case JobLock::State::kHeld: {
        JOB_LOG(INFO, run_id) << "lock taken";
        absl::Status recorded = store_->InsertRunning(run_id, name, started);
        // A pooled connection broken by an earlier outage fails once and is
        // dropped; the retry gets a fresh one.
        if (absl::IsUnavailable(recorded)) recorded = store_->InsertRunning(run_id, name, started);
        if (!recorded.ok()) {
          // The lock's connection worked but the pool's did not: the database
          // is not usable for this run, so it does not run (fail closed).
          JOB_LOG(ERROR, run_id) << "CRITICAL: job " << name
                                 << " not run: its run could not be recorded (fail closed): "
                                 << OneLine(recorded);
          CountFailClosed(e, run_id);
        } else {
          JobContext ctx(run_id, clock_, &cancelled_);
          absl::Status result;
          try {
            result = e->job->Run(ctx);
          } catch (const std::exception& ex) {
            result = absl::InternalError(std::string("job threw: ") + ex.what());
          }
          const TimePoint finished = clock_->Now();
          if (result.ok()) {
            JOB_LOG(INFO, run_id) << "job " << name << " succeeded in "
                                  << Seconds(finished - started)
                                  << "s: " << CounterSummary(ctx.counters());
          } else {
            JOB_LOG(ERROR, run_id)
                << "job " << name << " failed after " << Seconds(finished - started)
                << "s: " << OneLine(result) << " (" << CounterSummary(ctx.counters()) << ")";
          }
          absl::Status saved =
              store_->Finish(run_id, result.ok() ? kOutcomeSucceeded : kOutcomeFailed, finished,
                             ctx.counters(), result.ok() ? "" : OneLine(result));
          if (!saved.ok()) JOB_LOG(ERROR, run_id) << "run summary not recorded: " << OneLine(saved);
        }
        // Released on every path, before the run counts as over here.
        absl::Status released = lock.Release();
        if (released.ok()) {
          JOB_LOG(INFO, run_id) << "lock released";
        } else {
          JOB_LOG(WARNING, run_id)
              << "lock released by closing its connection (unlock failed: " << OneLine(released)
              << ")";
        }
        break;
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    e->running_run_id.clear();
  }
  cv_.notify_all();
}

}  // namespace sluice
