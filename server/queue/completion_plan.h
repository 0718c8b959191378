// CompletionPlan decides what a group commit writes, without touching the
// database: which completions of the batch go in (a stale fencing token, a
// task completed twice in one batch, a payload for a kind that takes none
// keep theirs out), what each kind's TaskExtension made of its payload, and
// from that the writes: 304s that refresh last_modified, carried access
// counts, cache rows (ETag, Expires, discoveries to replay on a 304),
// discovered tasks grouped per (kind, priority, force), tasks done and tasks
// kept (requeued). PgQueueStore::CompleteBatch locks the batch's tasks,
// builds a plan, applies the payloads, finishes the plan and executes it.
//
// Use, in this order:
//   CompletionPlan plan(batch, locked, kinds, has_extension);   // admits
//   for (const Admitted& a : plan.admitted()) if extension: SetPayloadOutcome
//   plan.Finish(now);                                            // decides
//   ... execute the writes; CreditQueued for each discovery group ...
//   plan.TakeResults();
//
// Ownership: borrows the completions and the kind registry for its life.
// Thread-safety: none; one group commit uses one plan.
#ifndef SLUICE_SERVER_QUEUE_COMPLETION_PLAN_H_
#define SLUICE_SERVER_QUEUE_COMPLETION_PLAN_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/queue/queue_types.h"
#include "server/queue/task_kinds.h"

namespace sluice {

// A task of the batch as the store locked it (still holding the token the
// completion presents).
struct LockedTask {
  int64_t task_id = 0;
  int64_t fencing_token = 0;
  std::string kind;
  int64_t entity_id = 0;
  int priority = 0;
  int64_t weight = 1;
  // What the last full answer discovered, replayed when a 304 has no body.
  std::vector<Discovery> last_discovered;
  // When the task was queued: what it forces is fresh if checked since.
  TimePoint enqueued_at;
  // Its job run (job_runs.ref; 0 = none), which the tasks it discovers inherit.
  int64_t run_ref = 0;
};

class CompletionPlan {
 public:
  struct Admitted {
    size_t index = 0;  // into the batch
    const LockedTask* task = nullptr;
    const TaskKind* kind = nullptr;
    bool has_extension = false;
  };
  struct CacheEntry {
    std::string kind;
    int64_t entity_id = 0;
    std::string etag;
    std::optional<TimePoint> expires;
    // Set from a full answer; unset on a 304 (the stored list is kept).
    std::optional<std::vector<Discovery>> discovered;
  };
  struct AccessCarry {
    const TaskKind* kind = nullptr;
    int64_t entity_id = 0;
    int64_t accesses = 0;
  };
  struct DiscoveryGroup {
    std::string kind;
    int priority = 0;
    // A list route's ids are queued whatever their freshness, except those
    // checked after the discovering task was queued (the earliest of the
    // group's tasks): they are fresher than this list's answer, and fetching
    // them again in the same run would only repeat a call.
    bool force = false;
    // The discovering tasks' job run (LockedTask::run_ref): groups are per run.
    int64_t run_ref = 0;
    TimePoint forced_fresh_after = TimePoint::max();
    std::vector<int64_t> ids;
  };
  struct Requeue {
    int64_t task_id = 0;
    std::string kind;
    TimePoint ready_at;
  };

  CompletionPlan(const std::vector<const Completion*>& batch, std::vector<LockedTask> locked,
                 const TaskKindRegistry& kinds,
                 const std::function<bool(const std::string& kind)>& has_extension);

  const std::vector<Admitted>& admitted() const { return admitted_; }
  const Completion& completion(size_t index) const { return *batch_[index]; }

  // What the kind's extension made of an admitted completion's payload.
  void SetPayloadOutcome(size_t index, absl::StatusOr<PayloadOutcome> outcome);

  // Decides the writes below from what was admitted and applied.
  void Finish(TimePoint now);

  // Nothing to write: no completion went in.
  bool empty() const { return done_.empty() && requeued_.empty(); }
  const std::map<const TaskKind*, std::vector<int64_t>>& not_modified() const { return touched_; }
  const std::vector<AccessCarry>& access_carry() const { return access_carry_; }
  const std::vector<CacheEntry>& cache() const { return cache_; }
  const std::vector<DiscoveryGroup>& discoveries() const { return discoveries_; }
  const std::vector<int64_t>& done() const { return done_; }
  const std::vector<Requeue>& requeued() const { return requeued_; }

  // `inserted` tasks were queued for discoveries()[group]: counted for the
  // first completion that discovered that group (one statement per group
  // cannot tell which completion each new task came from).
  void CreditQueued(size_t group, int inserted);

  // One result per completion of the batch, in order.
  std::vector<absl::StatusOr<CompletionOutcome>> TakeResults() { return std::move(results_); }

 private:
  const std::vector<const Completion*>& batch_;
  const TaskKindRegistry& kinds_;
  std::vector<LockedTask> locked_;
  std::vector<Admitted> admitted_;
  std::vector<std::optional<absl::StatusOr<PayloadOutcome>>> payloads_;  // per batch index
  std::vector<absl::StatusOr<CompletionOutcome>> results_;
  // Per batch index: what it discovered, at which priority and in which run, for
  // CreditQueued.
  std::vector<std::vector<Discovery>> effective_;
  std::vector<int> priority_;
  std::vector<int64_t> run_ref_;

  std::map<const TaskKind*, std::vector<int64_t>> touched_;
  std::vector<AccessCarry> access_carry_;
  std::vector<CacheEntry> cache_;
  std::vector<DiscoveryGroup> discoveries_;
  std::vector<int64_t> done_;
  std::vector<Requeue> requeued_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_COMPLETION_PLAN_H_
