// PgQueueStore: the task queue on PostgreSQL (tables in db/migrations).
//
// Claims go through the sluice_claim() function (exact urgency order without
// scanning the queue). Completions are committed in batches: one transaction
// locks the batch's tasks by fencing token, writes all entity rows and cache
// state with one statement per table, queues discovered ids with one
// statement per (kind, priority, force), and deletes the tasks. Each task's
// result is all-or-nothing; a stale token writes nothing.
//
// Thread-safety: safe from any thread; each call borrows a pool connection.
#ifndef SLUICE_SERVER_STORE_PG_QUEUE_STORE_H_
#define SLUICE_SERVER_STORE_PG_QUEUE_STORE_H_

#include <functional>
#include <string>

#include "server/queue/queue_store.h"
#include "server/store/pg_pool.h"

namespace sluice {

class PgQueueStore final : public QueueStore {
 public:
  // Called at named points inside Complete's transaction ("locked",
  // "entities", "discovered", "before_commit"). Tests throw from it to prove
  // a failure mid-commit leaves nothing behind. Null in production.
  using FaultHook = std::function<void(const std::string& stage)>;

  // Does not take ownership of pool.
  explicit PgQueueStore(PgPool* pool) : pool_(pool) {}

  void set_fault_hook(FaultHook hook) { fault_hook_ = std::move(hook); }

  absl::StatusOr<std::vector<LeasedTask>> Claim(const std::vector<std::string>& kinds, int limit,
                                                TimePoint now, TimePoint lease_until,
                                                const std::string& agent_id) override;
  absl::StatusOr<TimePoint> Extend(int64_t task_id, int64_t fencing_token,
                                   TimePoint lease_until) override;
  std::vector<absl::StatusOr<CompletionOutcome>> CompleteBatch(
      const std::vector<const Completion*>& batch, TimePoint now, TimePoint fresh_after) override;
  absl::StatusOr<FailureOutcome> Fail(const Failure& failure, TimePoint now,
                                      const RetryPolicy& policy) override;
  absl::StatusOr<EnqueueOutcome> Enqueue(const std::string& kind, const std::vector<int64_t>& ids,
                                         int priority, bool count_access, TimePoint now) override;
  absl::StatusOr<std::vector<KindStats>> Stats(TimePoint now) override;
  absl::StatusOr<std::vector<EntityCountRow>> EntityCounts(
      std::optional<TimePoint> since) override;
  absl::Status ForEachEntityId(
      const std::string& kind, int chunk,
      const std::function<absl::Status(const std::vector<int64_t>&)>& fn) override;

 private:
  void Hook(const std::string& stage) {
    if (fault_hook_) fault_hook_(stage);
  }

  PgPool* pool_;
  FaultHook fault_hook_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_STORE_PG_QUEUE_STORE_H_
