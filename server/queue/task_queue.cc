#include "server/queue/task_queue.h"

#include <glog/logging.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging/log_context.h"
#include "common/text.h"

namespace sluice {
namespace {

using std::chrono::milliseconds;

std::string Secs(Duration d) {
  return std::to_string(std::chrono::duration<double>(d).count()) + "s";
}

}  // namespace

TaskQueue::TaskQueue(QueueStore* store, const TaskKindRegistry* kinds, const Clock* clock,
                     TaskQueueOptions options)
    : store_(store),
      kinds_(kinds),
      clock_(clock),
      options_(options),
      batcher_(
          [this](const std::vector<const Completion*>& batch, TimePoint now,
                 TimePoint fresh_after) { return store_->CompleteBatch(batch, now, fresh_after); },
          options.max_commit_batch, options.max_commit_leaders),
      claims_(
          [this](const std::vector<std::string>& kinds, const std::vector<ClaimSlot>& slots) {
            return store_->Claim(kinds, slots, clock_->Now());
          },
          options.max_group_claim, options.max_claim_leaders),
      retry_(options.retry) {}

absl::Status TaskQueue::CheckAgentId(const std::string& agent_id) {
  if (agent_id.empty()) return absl::InvalidArgumentError("agent_id is required");
  return CheckText("agent_id", agent_id, 1, kMaxAgentIdChars);
}

absl::Status TaskQueue::CheckKind(const std::string& field, const std::string& kind) const {
  if (kind.empty()) return absl::InvalidArgumentError(field + " is required");
  if (kinds_->Find(kind) == nullptr) {
    return absl::InvalidArgumentError(field + ": unknown kind " + QuotePrefix(kind) +
                                      " (known: " + kinds_->Names() + ")");
  }
  return absl::OkStatus();
}

absl::Status TaskQueue::CheckIds(const std::string& field, const std::string& kind,
                                 const std::vector<int64_t>& ids) const {
  if (static_cast<int>(ids.size()) > options_.max_ids_per_request) {
    return absl::InvalidArgumentError(field + ": at most " +
                                      std::to_string(options_.max_ids_per_request) +
                                      " ids per request, got " + std::to_string(ids.size()));
  }
  const bool singleton = kinds_->Find(kind)->singleton;
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
  if (absl::Status s = CheckAgentId(agent_id); !s.ok()) return s;
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
    return absl::InvalidArgumentError("wait must be in 0.." + Secs(options_.max_wait) + ", got " +
                                      Secs(wait));
  }

  // Claims for the same set of kinds are grouped (claim_batcher.h).
  std::vector<std::string> group_kinds = kinds;
  std::sort(group_kinds.begin(), group_kinds.end());
  group_kinds.erase(std::unique(group_kinds.begin(), group_kinds.end()), group_kinds.end());

  // The wait is real time even when the domain clock is fake (tests).
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (true) {
    uint64_t epoch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      epoch = work_epoch_;
    }
    const ClaimSlot slot{max_tasks, clock_->Now() + lease, agent_id};
    const auto claim_start = std::chrono::steady_clock::now();
    auto tasks = claims_.Claim(group_kinds, slot);
    if (tasks.ok()) tasks = DeadLetterExhausted(agent_id, std::move(*tasks));
    const auto real_now = std::chrono::steady_clock::now();
    if (options_.observer != nullptr) {
      options_.observer->Claimed(std::chrono::duration_cast<Duration>(real_now - claim_start),
                                 tasks.ok() ? tasks->size() : 0);
    }
    if (!tasks.ok() || !tasks->empty() || shutdown_ || real_now >= deadline) return tasks;
    // Nothing ready: sleep until new work is signalled in this process, or a
    // short poll interval passes (backoffs end and other coordinators enqueue
    // without telling us).
    std::unique_lock<std::mutex> lock(mu_);
    auto left =
        std::min<std::chrono::steady_clock::duration>(deadline - real_now, milliseconds(250));
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
  // Optional here (a lease's holder is known by its token), checked when given.
  if (absl::Status s = CheckText("agent_id", c.agent_id, 0, kMaxAgentIdChars); !s.ok()) return s;
  // An upstream's ETag (RFC 9110: a quoted string of visible characters).
  if (absl::Status s = CheckText("etag", c.etag, 0, kMaxEtagChars); !s.ok()) return s;
  for (size_t i = 0; i < c.discovered.size(); ++i) {
    const std::string field = "discovered[" + std::to_string(i) + "]";
    absl::Status s = CheckKind(field + ".kind", c.discovered[i].kind);
    if (s.ok()) s = CheckIds(field + ".ids", c.discovered[i].kind, c.discovered[i].ids);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<CompletionOutcome> TaskQueue::Complete(const Completion& c) {
  if (absl::Status s = ValidateCompletion(c); !s.ok()) {
    CountRejected(c, s);
    return s;
  }
  const TimePoint now = clock_->Now();
  const auto commit_start = std::chrono::steady_clock::now();
  auto out = batcher_.Commit(c, now, now - options_.fresh_for);
  if (options_.observer != nullptr) {
    options_.observer->Committed(
        std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - commit_start), 1,
        out.ok());
  }
  if (out.ok() && (out->tasks_queued > 0 || out->requeued_now)) NotifyWork();
  if (absl::IsInvalidArgument(out.status())) CountRejected(c, out.status());
  return out;
}

std::vector<LeasedTask> TaskQueue::DeadLetterExhausted(const std::string& agent_id,
                                                       std::vector<LeasedTask> tasks) {
  std::vector<LeasedTask> out;
  out.reserve(tasks.size());
  for (LeasedTask& t : tasks) {
    if (t.attempts < options_.retry.max_attempts) {
      out.push_back(std::move(t));
      continue;
    }
    Failure f;
    f.task_id = t.task_id;
    f.fencing_token = t.fencing_token;
    f.agent_id = agent_id;
    f.permanent = true;
    f.error = absl::StrCat("out of attempts: ", t.attempts,
                           ", the last of them leases that lapsed without a report (agents that "
                           "crash or hang on this task?)");
    auto dead = Fail(f);
    if (!dead.ok()) {
      // It stays this agent's lease: better one more try than a lost task.
      LOG(WARNING) << "task " << t.task_id << " could not be dead-lettered: " << dead.status();
      out.push_back(std::move(t));
    }
  }
  return out;
}

void TaskQueue::CountRejected(const Completion& c, const absl::Status& why) {
  if (c.task_id <= 0 || c.fencing_token <= 0) return;  // no task to charge
  Failure f;
  f.task_id = c.task_id;
  f.fencing_token = c.fencing_token;
  // The refusal may be of the agent id itself: keep it storable.
  f.agent_id = SanitizeForStorage(c.agent_id, kMaxAgentIdChars);
  f.error = "result rejected: " + std::string(why.message());
  // A stale token (FAILED_PRECONDITION) means the task is no longer this
  // lease's to charge; anything else is logged, the answer stays the rejection.
  auto charged = Fail(f);
  if (!charged.ok() && !absl::IsFailedPrecondition(charged.status())) {
    LOG(WARNING) << "task " << c.task_id
                 << ": rejected result not counted as an attempt: " << charged.status();
  }
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
      CountRejected(completions[i], s);
      results[i] = absl::InvalidArgumentError("completions[" + std::to_string(i) + "]." +
                                              std::string(s.message()));
      continue;
    }
    valid.push_back(&completions[i]);
    index.push_back(i);
  }
  if (valid.empty()) return results;
  const TimePoint now = clock_->Now();
  // Already a batch: it joins a group commit whole (with other agents'
  // batches when they arrive together), retried whole if a conflict aborted
  // it before anything was written, in halves if the database refused it.
  const auto commit_start = std::chrono::steady_clock::now();
  std::vector<absl::StatusOr<CompletionOutcome>> committed =
      batcher_.CommitAll(valid, now, now - options_.fresh_for);
  if (options_.observer != nullptr) {
    bool all_ok = true;
    for (const auto& c : committed) all_ok &= c.ok();
    options_.observer->Committed(
        std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now() - commit_start),
        valid.size(), all_ok);
  }
  bool queued = false;
  for (size_t j = 0; j < valid.size(); ++j) {
    queued |= committed[j].ok() && (committed[j]->tasks_queued > 0 || committed[j]->requeued_now);
    if (absl::IsInvalidArgument(committed[j].status()))
      CountRejected(*valid[j], committed[j].status());
    results[index[j]] = std::move(committed[j]);
  }
  if (queued) NotifyWork();
  return results;
}

absl::StatusOr<int> TaskQueue::ReclaimLeasesOf(const std::string& agent_id) {
  if (absl::Status s = CheckAgentId(agent_id); !s.ok()) return s;
  auto held = store_->LeasesHeldBy(agent_id);
  if (!held.ok()) return held.status();
  int ended = 0;
  for (const auto& [task_id, token] : *held) {
    Failure f;
    f.task_id = task_id;
    f.fencing_token = token;
    f.agent_id = agent_id;
    f.error = "agent " + agent_id + " restarted while holding this task";
    auto out = Fail(f);
    // Stale: completed or lapsed meanwhile; nothing to end.
    if (out.ok()) {
      ++ended;
    } else if (!absl::IsFailedPrecondition(out.status())) {
      return out.status();
    }
  }
  if (ended > 0) {
    LOG(WARNING) << "agent " << agent_id << " started anew: ended " << ended
                 << " lease(s) its previous process held, each as a failed attempt";
    NotifyWork();
  }
  return ended;
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
  if (absl::Status s = CheckText("agent_id", f.agent_id, 0, kMaxAgentIdChars); !s.ok()) return s;
  // Kept whatever it holds (it is the diagnosis), but storable and bounded.
  Failure copy = f;
  copy.error = SanitizeForStorage(f.error, kMaxErrorBytes);
  auto out = store_->Fail(copy, clock_->Now(), [this](int attempts, const Failure& ff) {
    return retry_.Decide(attempts, ff);
  });
  if (out.ok() && out->dead) {
    logging::LogIds ids;
    ids.run_id = out->run_id;
    logging::ScopedLogIds run_ids(ids);
    LOG(WARNING) << "task " << f.task_id << " failed permanently after " << out->attempts
                 << " attempt(s): " << copy.error;
  }
  return out;
}

absl::StatusOr<EnqueueOutcome> TaskQueue::Enqueue(const std::string& kind,
                                                  const std::vector<int64_t>& ids,
                                                  Priority priority,
                                                  const std::string& run_id) {
  absl::Status s = CheckKind("kind", kind);
  if (!s.ok()) return s;
  if (ids.empty()) return absl::InvalidArgumentError("ids: at least one id is required");
  s = CheckIds("ids", kind, ids);
  if (!s.ok()) return s;
  auto out = store_->Enqueue(kind, ids, PriorityValue(priority), priority == Priority::kUser,
                             clock_->Now(), run_id);
  if (out.ok() && out->enqueued > 0) NotifyWork();
  return out;
}

absl::StatusOr<EnqueueOutcome> TaskQueue::EnqueueAllKnown(const std::string& kind,
                                                          Priority priority,
                                                          const std::string& run_id) {
  if (absl::Status s = CheckKind("kind", kind); !s.ok()) return s;
  EnqueueOutcome total;
  absl::Status s = store_->ForEachEntityId(kind, 5000, [&](const std::vector<int64_t>& ids) {
    auto r = store_->Enqueue(kind, ids, PriorityValue(priority), false, clock_->Now(), run_id);
    if (!r.ok()) return r.status();
    total.enqueued += r->enqueued;
    total.already_queued += r->already_queued;
    total.waiting_for_expires += r->waiting_for_expires;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  if (total.enqueued > 0) NotifyWork();
  return total;
}

absl::StatusOr<std::vector<KindStats>> TaskQueue::Stats() { return store_->Stats(clock_->Now()); }

absl::StatusOr<std::vector<EntityCountRow>> TaskQueue::EntityCounts(
    std::optional<TimePoint> since) {
  return store_->EntityCounts(since);
}

absl::StatusOr<std::vector<int64_t>> TaskQueue::Unqueued(const std::string& kind,
                                                         const std::vector<int64_t>& ids) {
  if (absl::Status s = CheckKind("kind", kind); !s.ok()) return s;
  if (ids.empty()) return std::vector<int64_t>{};
  return store_->Unqueued(kind, ids);
}

absl::StatusOr<int64_t> TaskQueue::CountFirstAttempts(const std::string& kind,
                                                      const std::vector<int64_t>& ids) {
  if (absl::Status s = CheckKind("kind", kind); !s.ok()) return s;
  if (ids.empty()) return 0;
  return store_->CountFirstAttempts(kind, ids);
}

}  // namespace sluice
