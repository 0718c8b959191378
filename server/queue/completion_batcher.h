// CompletionBatcher turns concurrent completions into group commits, the way
// LevelDB batches concurrent writes: callers queue up; the caller at the
// front becomes the leader, commits everything queued behind it (up to
// max_batch) in one store transaction, and hands each follower its own
// result. Under load one transaction carries many completions; alone, a
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
  CompletionBatcher(QueueStore* store, int max_batch) : store_(store), max_batch_(max_batch) {}

  absl::StatusOr<CompletionOutcome> Commit(const Completion& completion, TimePoint now,
                                           TimePoint fresh_after);

 private:
  struct Writer {
    const Completion* completion;
    absl::StatusOr<CompletionOutcome> result;
    bool done = false;
    std::condition_variable cv;
  };

  QueueStore* const store_;
  const int max_batch_;
  std::mutex mu_;
  std::deque<Writer*> writers_;  // guarded by mu_
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_COMPLETION_BATCHER_H_
