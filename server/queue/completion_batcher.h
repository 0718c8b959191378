// CompletionBatcher turns concurrent completions into group commits, the way
// LevelDB batches concurrent writes: callers queue up, each with one
// completion (CompleteTask) or an agent's whole batch (CompleteTasks); the
// caller at the front becomes a leader, takes the callers queued behind it
// (up to max_batch completions in all, whole callers only) and commits them
// in one store transaction, then hands each caller its own results. Up to
// max_leaders groups commit at once, on separate connections, so one
// group's WAL flush overlaps the next group's statements. Under load one
// transaction carries several agents' batches, which shares its fixed costs
// (planning, the commit's flush) among them; alone, a caller commits at once
// with no added delay.
//
// Ownership: owns nothing; the commit function must outlive the batcher.
// Thread-safety: Commit and CommitAll are safe from any thread.
#ifndef SLUICE_SERVER_QUEUE_COMPLETION_BATCHER_H_
#define SLUICE_SERVER_QUEUE_COMPLETION_BATCHER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "server/queue/queue_types.h"

namespace sluice {

class CompletionBatcher {
 public:
  // Commits one group in one transaction (QueueStore::CompleteBatch): one
  // answer per completion, in order.
  using CommitFn = std::function<std::vector<absl::StatusOr<CompletionOutcome>>(
      const std::vector<const Completion*>& batch, TimePoint now, TimePoint fresh_after)>;

  // max_batch: completions per group (a lone caller with more still
  // commits, alone).
  CompletionBatcher(CommitFn commit, int max_batch, int max_leaders)
      : commit_(std::move(commit)), max_batch_(max_batch), max_leaders_(max_leaders) {}

  absl::StatusOr<CompletionOutcome> Commit(const Completion& completion, TimePoint now,
                                           TimePoint fresh_after);

  // One answer per completion, in order. The group is committed with its
  // leader's `now` and `fresh_after`: callers queued together arrived within
  // one commit of each other.
  std::vector<absl::StatusOr<CompletionOutcome>> CommitAll(
      const std::vector<const Completion*>& completions, TimePoint now, TimePoint fresh_after);

  // Callers waiting for a group (tests).
  int queued() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(waiting_.size());
  }

 private:
  struct Writer {
    const std::vector<const Completion*>* completions;
    std::vector<absl::StatusOr<CompletionOutcome>> results;
    bool taken = false;  // part of a group being committed
    bool done = false;
    std::condition_variable cv;
  };

  const CommitFn commit_;
  const int max_batch_;
  const int max_leaders_;
  std::mutex mu_;
  std::deque<Writer*> waiting_;  // not yet taken; guarded by mu_
  int leaders_ = 0;              // groups being committed; guarded by mu_
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_COMPLETION_BATCHER_H_
