// TaskQueue is the queue's domain logic, with no gRPC, protobuf or database
// in it (the build keeps it so: sluice_queue links neither): argument
// validation (INVALID_ARGUMENT naming the field), lease bounds, the retry
// policy, discovery freshness, long-polling claims and group commit.
// Persistence goes through the QueueStore seam; the kinds it knows come
// from the coordinator's TaskKindRegistry.
//
// Ownership: borrows the store, the kind registry and the clock; all must
// outlive the queue. Thread-safety: all methods are safe from any thread.
#ifndef SLUICE_SERVER_QUEUE_TASK_QUEUE_H_
#define SLUICE_SERVER_QUEUE_TASK_QUEUE_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/wire_limits.h"
#include "server/queue/claim_batcher.h"
#include "server/queue/completion_batcher.h"
#include "server/queue/priority.h"
#include "server/queue/queue_observer.h"
#include "server/queue/queue_store.h"
#include "server/queue/retry_policy.h"
#include "server/queue/task_kinds.h"

namespace sluice {

struct TaskQueueOptions {
  Duration default_lease = std::chrono::seconds(60);
  Duration min_lease = std::chrono::seconds(1);
  Duration max_lease = std::chrono::hours(1);
  int max_claim = 1000;
  Duration max_wait = std::chrono::seconds(30);
  // Discovered ids refreshed within this window are not queued again (unless
  // forced), which keeps discovery chains such as corporation -> character ->
  // corporation from looping.
  Duration fresh_for = std::chrono::hours(1);
  RetryPolicyOptions retry;
  int max_ids_per_request = 100000;
  // Group commit: completions per transaction (callers are never split: one
  // CompleteTasks batch larger than this still commits whole), and
  // transactions in flight.
  int max_commit_batch = 1000;
  int max_commit_leaders = 4;
  // Group claim: tasks per group of concurrent LeaseTasks calls, and groups
  // claiming at once.
  int max_group_claim = 5000;
  int max_claim_leaders = 2;
  // Told how long claims and commits take (metrics); borrowed, may be null.
  QueueObserver* observer = nullptr;
};

class TaskQueue {
 public:
  TaskQueue(QueueStore* store, const TaskKindRegistry* kinds, const Clock* clock,
            TaskQueueOptions options);

  // Ends every lease still held under agent_id as a failed attempt (the
  // error names the agent): for an agent process that starts with the id of
  // one that died holding tasks (LeaseTasksRequest.new_process). Returns how
  // many leases it ended.
  absl::StatusOr<int> ReclaimLeasesOf(const std::string& agent_id);

  // lease: 0 = default. wait: long-poll for up to this long if nothing is ready.
  absl::StatusOr<std::vector<LeasedTask>> Lease(const std::string& agent_id,
                                                const std::vector<std::string>& kinds,
                                                int max_tasks, Duration lease, Duration wait);
  absl::StatusOr<TimePoint> Extend(int64_t task_id, int64_t fencing_token, Duration lease);
  absl::StatusOr<CompletionOutcome> Complete(const Completion& completion);
  // Many completions in one transaction; one result each, in order.
  // INVALID_ARGUMENT for the whole call if there are none or too many.
  absl::StatusOr<std::vector<absl::StatusOr<CompletionOutcome>>> CompleteMany(
      const std::vector<Completion>& completions);
  absl::StatusOr<FailureOutcome> Fail(const Failure& failure);
  // Only `user` priority counts an access of the entities (access_count).
  // `run_id`: the job run queueing them (recorded in job_runs), which the
  // tasks and those they discover carry to the agents; empty for none.
  absl::StatusOr<EnqueueOutcome> Enqueue(const std::string& kind, const std::vector<int64_t>& ids,
                                         Priority priority, const std::string& run_id = "");
  // Queues every entity of `kind` its table holds (a daily refresh).
  absl::StatusOr<EnqueueOutcome> EnqueueAllKnown(const std::string& kind, Priority priority,
                                                 const std::string& run_id = "");
  absl::StatusOr<std::vector<KindStats>> Stats();
  absl::Status FoldCounts() { return store_->FoldCounts(); }
  // See QueueStore::ReloadBeforeNextClaim.
  void ReloadBeforeNextClaim() { store_->ReloadBeforeNextClaim(); }
  absl::StatusOr<std::vector<EntityCountRow>> EntityCounts(std::optional<TimePoint> since);
  // Of `ids`, those neither queued nor dead-lettered as `kind`.
  absl::StatusOr<std::vector<int64_t>> Unqueued(const std::string& kind,
                                                const std::vector<int64_t>& ids);
  // Tasks of `kind` for `ids` that have not failed yet (first attempts still
  // to come): what a job waits for.
  absl::StatusOr<int64_t> CountFirstAttempts(const std::string& kind,
                                             const std::vector<int64_t>& ids);

  // Wakes long-polling Lease calls and makes them return at once.
  void Shutdown();

  // What a failure leads to; exposed for tests.
  RetryDecision DecideRetry(int attempts, const Failure& failure) {
    return retry_.Decide(attempts, failure);
  }
  const TaskKindRegistry& kinds() const { return *kinds_; }

 private:
  void NotifyWork();
  absl::Status CheckKind(const std::string& field, const std::string& kind) const;
  absl::Status CheckIds(const std::string& field, const std::string& kind,
                        const std::vector<int64_t>& ids) const;
  absl::Status ValidateCompletion(const Completion& completion) const;
  static absl::Status CheckAgentId(const std::string& agent_id);
  // A result the coordinator refused (INVALID_ARGUMENT: malformed, or data
  // no real answer holds) counts as a failed attempt of its task, so a task
  // whose answers are always refused reaches dead_tasks with the reason
  // instead of lapsing and being fetched again forever.
  void CountRejected(const Completion& completion, const absl::Status& why);
  // Each lapsed lease counts an attempt (db/migrations/0013_lapsed_leases.sql):
  // a claimed task whose attempts reached max_attempts that way is
  // dead-lettered instead of handed out, so a task that kills or hangs every
  // agent that takes it ends in dead_tasks. Returns the tasks to hand out.
  std::vector<LeasedTask> DeadLetterExhausted(const std::string& agent_id,
                                              std::vector<LeasedTask> tasks);

  // Bounds of what agents send (characters, bytes).
  static constexpr size_t kMaxAgentIdChars = 200;
  static constexpr size_t kMaxErrorBytes = 4096;

  QueueStore* const store_;
  const TaskKindRegistry* const kinds_;
  const Clock* const clock_;
  const TaskQueueOptions options_;
  CompletionBatcher batcher_;
  ClaimBatcher claims_;
  RetryPolicy retry_;

  std::mutex mu_;
  std::condition_variable work_cv_;
  uint64_t work_epoch_ = 0;  // bumped whenever new work may be ready
  std::atomic<bool> shutdown_{false};
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_TASK_QUEUE_H_
