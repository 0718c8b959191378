// CompletionBatcher turns concurrent completions into group commits, the way
// LevelDB batches concurrent writes: callers queue up; the caller at the
// front becomes a leader, takes everything queued behind it (up to
// max_batch) and commits it in one store transaction, then hands each
// follower its own result. Up to max_leaders groups commit at once, on
// separate connections, so one group's WAL flush overlaps the next group's
// statements. Under load one transaction carries many completions; alone, a
// completion commits at once with no added delay.
//
// Ownership: borrows the store. Thread-safety: Commit is safe from any thread.
#ifndef SLUICE_SERVER_QUEUE_COMPLETION_BATCHER_H_
#define SLUICE_SERVER_QUEUE_COMPLETION_BATCHER_H_

#include <condition_variable>
#include <deque>
#include <mutex>

#include "server/queue/queue_store.h"

namespace sluice {

class CompletionBatcher {
 public:
  CompletionBatcher(QueueStore* store, int max_batch, int max_leaders)
      : store_(store), max_batch_(max_batch), max_leaders_(max_leaders) {}

  absl::StatusOr<CompletionOutcome> Commit(const Completion& completion, TimePoint now,
                                           TimePoint fresh_after);

 private:
  struct Writer {
    const Completion* completion;
    absl::StatusOr<CompletionOutcome> result;
    bool taken = false;  // part of a group being committed
    bool done = false;
    std::condition_variable cv;
  };

  QueueStore* const store_;
  const int max_batch_;
  const int max_leaders_;
  std::mutex mu_;
  std::deque<Writer*> waiting_;  // not yet taken; guarded by mu_
  int leaders_ = 0;              // groups being committed; guarded by mu_
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_COMPLETION_BATCHER_H_
