// QueueStore is the seam between the queue's domain logic (TaskQueue) and
// its persistence. PgQueueStore implements it on PostgreSQL; tests may put a
// failing implementation in its place to check error handling, but every
// behavioural test runs against the real database.
//
// All times are passed in by the caller (the coordinator's clock), so the
// database and the coordinator agree on what "now" is.
//
// Thread-safety: implementations are safe to call from any thread.
#ifndef SLUICE_SERVER_QUEUE_QUEUE_STORE_H_
#define SLUICE_SERVER_QUEUE_QUEUE_STORE_H_

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/queue/queue_types.h"
#include "server/queue/retry_policy.h"

namespace sluice {

// What a failure leads to, from the attempt count (after increment).
using RetryDecider = std::function<RetryDecision(int attempts, const Failure& failure)>;

class QueueStore {
 public:
  virtual ~QueueStore() = default;

  // Leases the most urgent ready tasks of `kinds` to a group of claimers,
  // within the highest priority that has ready tasks: slot i gets up to slots[i].limit, the first
  // slot the most urgent. One result per slot, in order.
  virtual absl::StatusOr<std::vector<std::vector<LeasedTask>>> Claim(
      const std::vector<std::string>& kinds, const std::vector<ClaimSlot>& slots,
      TimePoint now) = 0;

  // FAILED_PRECONDITION if the token is not the task's current one.
  virtual absl::StatusOr<TimePoint> Extend(int64_t task_id, int64_t fencing_token,
                                           TimePoint lease_until) = 0;

  // Commits a batch of completions in one transaction: for each, what its
  // kind writes (its TaskExtension), cache state, discovered tasks and the
  // task's removal. A completion whose token is stale (FAILED_PRECONDITION)
  // or whose payload its kind refuses (INVALID_ARGUMENT) is left out and
  // writes nothing; the others commit. If the transaction fails, every entry
  // gets the error and nothing is written (ABORTED after a deadlock or
  // serialisation failure: try again). Discovered ids refreshed after
  // `fresh_after` are skipped unless forced. One result per input, in order.
  virtual std::vector<absl::StatusOr<CompletionOutcome>> CompleteBatch(
      const std::vector<const Completion*>& batch, TimePoint now, TimePoint fresh_after) = 0;

  virtual absl::StatusOr<FailureOutcome> Fail(const Failure& failure, TimePoint now,
                                              const RetryDecider& decide) = 0;

  // The tasks leased under `agent_id` right now: (task id, fencing token).
  virtual absl::StatusOr<std::vector<std::pair<int64_t, int64_t>>> LeasesHeldBy(
      const std::string& agent_id) = 0;

  // Queues ids (always, whatever their freshness). `count_access` increments
  // the entities' access_count first (USER priority). `run_id` (empty for
  // none) names the job run queueing them, recorded before: the tasks carry
  // it (LeasedTask::run_id), and so do the tasks they discover.
  // FAILED_PRECONDITION if no such run is recorded.
  virtual absl::StatusOr<EnqueueOutcome> Enqueue(const std::string& kind,
                                                 const std::vector<int64_t>& ids, int priority,
                                                 bool count_access, TimePoint now,
                                                 const std::string& run_id) = 0;

  // Per-kind counts, from counters kept with every change (O(kinds)).
  virtual absl::StatusOr<std::vector<KindStats>> Stats(TimePoint now) = 0;
  // Folds the counters' pending changes into their totals. Stats is right
  // without it (it sums what is pending); folding every few seconds (the
  // coordinator's health loop) keeps that sum short.
  virtual absl::Status FoldCounts() = 0;

  virtual absl::StatusOr<std::vector<EntityCountRow>> EntityCounts(
      std::optional<TimePoint> since) = 0;

  // Every known id of an entity kind (for the daily character refresh),
  // streamed in chunks to bound memory.
  virtual absl::Status ForEachEntityId(
      const std::string& kind, int chunk,
      const std::function<absl::Status(const std::vector<int64_t>&)>& fn) = 0;

  // Of `ids`, those neither queued nor dead-lettered as `kind`.
  virtual absl::StatusOr<std::vector<int64_t>> Unqueued(const std::string& kind,
                                                        const std::vector<int64_t>& ids) = 0;
  // Tasks of `kind` for `ids` that have not failed yet.
  virtual absl::StatusOr<int64_t> CountFirstAttempts(const std::string& kind,
                                                     const std::vector<int64_t>& ids) = 0;

  // The queue's table was written behind the store's back (an operator's
  // SQL, a test): whatever the store keeps in memory of it is rebuilt before
  // the next claim.
  virtual void ReloadBeforeNextClaim() {}
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_QUEUE_STORE_H_
