#include "server/queue/task_queue.h"

#include <glog/logging.h>

#include <algorithm>
#include <cmath>

#include "server/queue/priority.h"
#include "server/queue/task_kinds.h"

namespace sluice {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

std::string Secs(Duration d) {
  return std::to_string(std::chrono::duration<double>(d).count()) + "s";
}

absl::Status CheckKind(const std::string& field, const std::string& kind) {
  if (kind.empty()) return absl::InvalidArgumentError(field + " is required");
  if (FindTaskKind(kind) == nullptr) {
    return absl::InvalidArgumentError(field + ": unknown kind '" + kind +
                                      "' (known: " + TaskKindNames() + ")");
  }
  return absl::OkStatus();
}

absl::Status CheckIds(const std::string& field, const std::string& kind,
                      const std::vector<int64_t>& ids, int max_ids) {
  if (static_cast<int>(ids.size()) > max_ids) {
    return absl::InvalidArgumentError(field + ": at most " + std::to_string(max_ids) +
                                      " ids per request, got " + std::to_string(ids.size()));
  }
  const bool singleton = FindTaskKind(kind)->singleton;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (singleton ? ids[i] != 0 : ids[i] <= 0) {
      return absl::InvalidArgumentError(
          field + "[" + std::to_string(i) + "]: " +
          (singleton ? "kind '" + kind + "' takes only the id 0"
                     : "ids must be positive, got " + std::to_string(ids[i])));
    }
  }
  return absl::OkStatus();
}

}  // namespace

TaskQueue::TaskQueue(QueueStore* store, const Clock* clock, TaskQueueOptions options)
    : store_(store),
      clock_(clock),
      options_(options),
      batcher_(store, options.max_commit_batch, options.max_commit_leaders),
      rng_(std::random_device{}()) {}

void TaskQueue::NotifyWork() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++work_epoch_;
  }
  work_cv_.notify_all();
}

void TaskQueue::Shutdown() {
  shutdown_ = true;
  NotifyWork();
}

absl::StatusOr<std::vector<LeasedTask>> TaskQueue::Lease(const std::string& agent_id,
                                                         const std::vector<std::string>& kinds,
                                                         int max_tasks, Duration lease,
                                                         Duration wait) {
  if (agent_id.empty()) return absl::InvalidArgumentError("agent_id is required");
  if (agent_id.size() > 200) return absl::InvalidArgumentError("agent_id: at most 200 bytes");
  if (kinds.empty()) return absl::InvalidArgumentError("kinds: at least one kind is required");
  for (size_t i = 0; i < kinds.size(); ++i) {
    absl::Status s = CheckKind("kinds[" + std::to_string(i) + "]", kinds[i]);
    if (!s.ok()) return s;
  }
  if (max_tasks < 1 || max_tasks > options_.max_claim) {
    return absl::InvalidArgumentError("max_tasks must be in 1.." +
                                      std::to_string(options_.max_claim) + ", got " +
                                      std::to_string(max_tasks));
  }
  if (lease == Duration::zero()) lease = options_.default_lease;
  if (lease < options_.min_lease || lease > options_.max_lease) {
    return absl::InvalidArgumentError("lease_duration must be in " + Secs(options_.min_lease) +
                                      ".." + Secs(options_.max_lease) + ", got " + Secs(lease));
  }
  if (wait < Duration::zero() || wait > options_.max_wait) {
    return absl::InvalidArgumentError("wait must be in 0.." + Secs(options_.max_wait) +
                                      ", got " + Secs(wait));
  }

  // The wait is real time even when the domain clock is fake (tests).
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    uint64_t epoch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      epoch = work_epoch_;
    }
    const TimePoint now = clock_->Now();
    auto tasks = store_->Claim(kinds, max_tasks, now, now + lease, agent_id);
    const auto real_now = std::chrono::steady_clock::now();
    if (!tasks.ok() || !tasks->empty() || shutdown_ || real_now >= deadline) return tasks;
    // Nothing ready: sleep until new work is signalled in this process, or a
    // short poll interval passes (backoffs end and other coordinators enqueue
    // without telling us).
    std::unique_lock<std::mutex> lock(mu_);
    auto left = std::min<std::chrono::steady_clock::duration>(deadline - real_now, milliseconds(250));
    work_cv_.wait_for(lock, left, [&] { return work_epoch_ != epoch || shutdown_; });
  }
}

absl::StatusOr<TimePoint> TaskQueue::Extend(int64_t task_id, int64_t fencing_token,
                                            Duration lease) {
  if (task_id <= 0) return absl::InvalidArgumentError("task_id must be positive");
  if (fencing_token <= 0) return absl::InvalidArgumentError("fencing_token must be positive");
  if (lease == Duration::zero()) lease = options_.default_lease;
  if (lease < options_.min_lease || lease > options_.max_lease) {
    return absl::InvalidArgumentError("lease_duration must be in " + Secs(options_.min_lease) +
                                      ".." + Secs(options_.max_lease));
  }
  return store_->Extend(task_id, fencing_token, clock_->Now() + lease);
}

absl::Status TaskQueue::ValidateCompletion(const Completion& c) const {
  if (c.task_id <= 0) return absl::InvalidArgumentError("task_id must be positive");
  if (c.fencing_token <= 0) return absl::InvalidArgumentError("fencing_token must be positive");
  if (c.not_modified && !c.records.empty()) {
    return absl::InvalidArgumentError("records must be empty when not_modified is set");
  }
  for (size_t i = 0; i < c.records.size(); ++i) {
    if (c.records[i].record_case() == v1::EntityRecord::RECORD_NOT_SET) {
      return absl::InvalidArgumentError("records[" + std::to_string(i) + "]: no record set");
    }
  }
  for (size_t i = 0; i < c.discovered.size(); ++i) {
    const std::string field = "discovered[" + std::to_string(i) + "]";
    absl::Status s = CheckKind(field + ".kind", c.discovered[i].kind);
    if (s.ok()) {
      s = CheckIds(field + ".ids", c.discovered[i].kind, c.discovered[i].ids,
                   options_.max_ids_per_request);
    }
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<CompletionOutcome> TaskQueue::Complete(const Completion& c) {
  if (absl::Status s = ValidateCompletion(c); !s.ok()) return s;
  const TimePoint now = clock_->Now();
  auto out = batcher_.Commit(c, now, now - options_.fresh_for);
  if (out.ok() && (out->tasks_queued > 0 || out->requeued_now)) NotifyWork();
  return out;
}

absl::StatusOr<std::vector<absl::StatusOr<CompletionOutcome>>> TaskQueue::CompleteMany(
    const std::vector<Completion>& completions) {
  if (completions.empty() || completions.size() > 1000) {
    return absl::InvalidArgumentError("completions: 1..1000 per call, got " +
                                      std::to_string(completions.size()));
  }
  std::vector<absl::StatusOr<CompletionOutcome>> results(completions.size());
  std::vector<const Completion*> valid;
  std::vector<size_t> index;
  for (size_t i = 0; i < completions.size(); ++i) {
    absl::Status s = ValidateCompletion(completions[i]);
    if (!s.ok()) {
      results[i] = absl::InvalidArgumentError("completions[" + std::to_string(i) + "]." +
                                              std::string(s.message()));
      continue;
    }
    valid.push_back(&completions[i]);
    index.push_back(i);
  }
  if (valid.empty()) return results;
  const TimePoint now = clock_->Now();
  std::vector<absl::StatusOr<CompletionOutcome>> committed;
  // Already a batch: it goes to the store as one transaction, retried whole
  // if a conflict aborted it before anything was written.
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    if (attempt > 0) ConflictPause(attempt);
    committed = store_->CompleteBatch(valid, now, now - options_.fresh_for);
    bool aborted = false;
    for (const auto& r : committed) aborted |= absl::IsAborted(r.status());
    if (!aborted) break;
  }
  bool queued = false;
  for (size_t j = 0; j < valid.size(); ++j) {
    queued |= committed[j].ok() && (committed[j]->tasks_queued > 0 || committed[j]->requeued_now);
    results[index[j]] = std::move(committed[j]);
  }
  if (queued) NotifyWork();
  return results;
}

RetryDecision TaskQueue::DecideRetry(int attempts, const Failure& f) {
  RetryDecision d;
  const bool invalid_4xx = f.http_status >= 400 && f.http_status < 500 && f.http_status != 420 &&
                           f.http_status != 429;
  if (attempts >= options_.max_attempts ||
      (invalid_4xx && attempts >= options_.permanent_4xx_after)) {
    d.dead = true;
    return d;
  }
  double base = std::chrono::duration<double>(options_.backoff_base).count() *
                std::pow(2.0, std::min(attempts - 1, 30));
  base = std::min(base, std::chrono::duration<double>(options_.backoff_max).count());
  double jitter;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jitter = std::uniform_real_distribution<double>(0.5, 1.5)(rng_);
  }
  Duration backoff = duration_cast<Duration>(std::chrono::duration<double>(base * jitter));
  d.delay = std::max(backoff, f.retry_after);
  return d;
}

absl::StatusOr<FailureOutcome> TaskQueue::Fail(const Failure& f) {
  if (f.task_id <= 0) return absl::InvalidArgumentError("task_id must be positive");
  if (f.fencing_token <= 0) return absl::InvalidArgumentError("fencing_token must be positive");
  if (f.retry_after < Duration::zero() || f.retry_after > std::chrono::hours(24)) {
    return absl::InvalidArgumentError("retry_after must be in 0..24h");
  }
  if (f.release && f.permanent) {
    return absl::InvalidArgumentError("release and permanent cannot both be set");
  }
  if (f.http_status < 0 || f.http_status > 599) {
    return absl::InvalidArgumentError("http_status must be 0 or an HTTP status (100..599)");
  }
  Failure copy = f;
  if (copy.error.size() > 4096) copy.error.resize(4096);
  auto out = store_->Fail(copy, clock_->Now(),
                          [this](int attempts, const Failure& ff) { return DecideRetry(attempts, ff); });
  if (out.ok() && out->dead) {
    LOG(WARNING) << "task " << f.task_id << " failed permanently after " << out->attempts
                 << " attempt(s): " << copy.error;
  }
  return out;
}

absl::StatusOr<EnqueueOutcome> TaskQueue::Enqueue(const std::string& kind,
                                                  const std::vector<int64_t>& ids,
                                                  v1::PriorityClass priority) {
  absl::Status s = CheckKind("kind", kind);
  if (!s.ok()) return s;
  if (ids.empty()) return absl::InvalidArgumentError("ids: at least one id is required");
  s = CheckIds("ids", kind, ids, options_.max_ids_per_request);
  if (!s.ok()) return s;
  if (!v1::PriorityClass_IsValid(priority)) {
    return absl::InvalidArgumentError("priority: unknown priority class " +
                                      std::to_string(priority));
  }
  auto out = store_->Enqueue(kind, ids, PriorityValue(priority),
                             priority == v1::PRIORITY_CLASS_USER, clock_->Now());
  if (out.ok() && out->enqueued > 0) NotifyWork();
  return out;
}

absl::StatusOr<std::vector<KindStats>> TaskQueue::Stats() { return store_->Stats(clock_->Now()); }

absl::StatusOr<std::vector<EntityCountRow>> TaskQueue::EntityCounts(
    std::optional<TimePoint> since) {
  return store_->EntityCounts(since);
}

absl::StatusOr<int> TaskQueue::StartDaily(bool include_characters, v1::PriorityClass priority) {
  if (priority == v1::PRIORITY_CLASS_UNSPECIFIED) priority = v1::PRIORITY_CLASS_BACKGROUND;
  auto first = Enqueue("alliance_ids", {0}, priority);
  if (!first.ok()) return first.status();
  int queued = first->enqueued;
  if (include_characters) {
    absl::Status s = store_->ForEachEntityId("character", 5000, [&](const std::vector<int64_t>& ids) {
      auto r = store_->Enqueue("character", ids, PriorityValue(priority), false, clock_->Now());
      if (!r.ok()) return r.status();
      queued += r->enqueued;
      return absl::OkStatus();
    });
    if (!s.ok()) return s;
  }
  NotifyWork();
  return queued;
}

}  // namespace sluice
