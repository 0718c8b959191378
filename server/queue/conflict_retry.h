// How every caller of QueueStore::CompleteBatch commits a group of
// completions. A group that a deadlock or serialisation failure aborted
// (every entry ABORTED, nothing written) is committed again, after a
// jittered, growing pause, so two groups that just collided do not meet
// again in the same order. A group the database refused for another reason
// (INTERNAL: one completion's data broke a statement, and the transaction
// took everyone's work with it) is committed again one completion at a
// time, so only the completion at fault fails.
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

using CommitFn = std::function<std::vector<absl::StatusOr<CompletionOutcome>>(
    const std::vector<const Completion*>& batch)>;

// Commits `batch` with CommitRetryingConflicts; then, if it held more than
// one completion and some failed INTERNAL, commits those again in halves
// (each with CommitRetryingConflicts), halving a half again while it fails,
// so that an INTERNAL answer left is one completion's own. One answer per
// completion, in order.
std::vector<absl::StatusOr<CompletionOutcome>> CommitIsolatingFailures(
    const std::vector<const Completion*>& batch, const CommitFn& commit);

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_CONFLICT_RETRY_H_
