// TaskQueue is the queue's domain logic, with no gRPC in it: argument
// validation (INVALID_ARGUMENT naming the field), lease bounds, retry backoff
// and permanent-failure policy, discovery freshness, long-polling claims, and
// the daily ESI sequence. Persistence goes through the QueueStore seam.
//
// Ownership: borrows the store and clock; both must outlive the queue.
// Thread-safety: all methods are safe from any thread.
#ifndef SLUICE_SERVER_QUEUE_TASK_QUEUE_H_
#define SLUICE_SERVER_QUEUE_TASK_QUEUE_H_

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/queue/completion_batcher.h"
#include "server/queue/queue_store.h"
#include "sluice/v1/common.pb.h"

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
  int max_attempts = 10;
  Duration backoff_base = std::chrono::seconds(2);
  Duration backoff_max = std::chrono::minutes(15);
  // The same task failing with a 4xx (other than 420/429) this many times is
  // a permanent failure: repeating an invalid request only burns budget.
  int permanent_4xx_after = 3;
  int max_ids_per_request = 100000;
  // Group commit: completions per transaction, and transactions in flight.
  int max_commit_batch = 256;
  int max_commit_leaders = 4;
};

class TaskQueue {
 public:
  TaskQueue(QueueStore* store, const Clock* clock, TaskQueueOptions options);

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
  absl::StatusOr<EnqueueOutcome> Enqueue(const std::string& kind, const std::vector<int64_t>& ids,
                                         v1::PriorityClass priority);
  absl::StatusOr<std::vector<KindStats>> Stats();
  absl::StatusOr<std::vector<EntityCountRow>> EntityCounts(std::optional<TimePoint> since);

  // Seed 001's daily sequence: queue the alliance id list (its completion
  // fans out to alliances, alliance corporations, corporations, characters)
  // and, if asked, every known character. Returns tasks queued.
  absl::StatusOr<int> StartDaily(bool include_characters, v1::PriorityClass priority);

  // Wakes long-polling Lease calls and makes them return at once.
  void Shutdown();

  // The backoff for a transient failure; exposed for tests.
  RetryDecision DecideRetry(int attempts, const Failure& failure);

 private:
  void NotifyWork();
  absl::Status ValidateCompletion(const Completion& completion) const;

  QueueStore* const store_;
  const Clock* const clock_;
  const TaskQueueOptions options_;
  CompletionBatcher batcher_;

  std::mutex mu_;
  std::condition_variable work_cv_;
  uint64_t work_epoch_ = 0;  // bumped whenever new work may be ready
  std::atomic<bool> shutdown_{false};
  std::mt19937_64 rng_;  // jitter; guarded by mu_
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_TASK_QUEUE_H_
