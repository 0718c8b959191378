// A group of completions that a deadlock or serialisation failure aborted
// (every entry ABORTED, nothing written) is committed again, after a
// jittered, growing pause, so two groups that just collided do not meet
// again in the same order. One loop for every caller of
// QueueStore::CompleteBatch.
//
// Thread-safety: reentrant.
#ifndef SLUICE_SERVER_QUEUE_CONFLICT_RETRY_H_
#define SLUICE_SERVER_QUEUE_CONFLICT_RETRY_H_

#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "server/queue/queue_types.h"

namespace sluice {

inline constexpr int kMaxConflictRetries = 6;

// Calls `commit` until no entry is ABORTED, at most kMaxConflictRetries
// times; returns the last answer.
std::vector<absl::StatusOr<CompletionOutcome>> CommitRetryingConflicts(
    const std::function<std::vector<absl::StatusOr<CompletionOutcome>>()>& commit);

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_CONFLICT_RETRY_H_
