#include "server/queue/conflict_retry.h"

#include <algorithm>
#include <random>
#include <thread>

#include <glog/logging.h>

namespace sluice {
namespace {

void ConflictPause(int attempt) {
  thread_local std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> ms(1, 5 << std::min(attempt, 4));
  std::this_thread::sleep_for(std::chrono::milliseconds(ms(rng)));
}

}  // namespace

std::vector<absl::StatusOr<CompletionOutcome>> CommitRetryingConflicts(
    const std::function<std::vector<absl::StatusOr<CompletionOutcome>>()>& commit) {
  std::vector<absl::StatusOr<CompletionOutcome>> results;
  for (int attempt = 0; attempt < kMaxConflictRetries; ++attempt) {
    if (attempt > 0) ConflictPause(attempt);
    results = commit();
    const bool aborted = std::any_of(results.begin(), results.end(),
                                     [](const auto& r) { return absl::IsAborted(r.status()); });
    if (!aborted) break;
  }
  return results;
}

std::vector<absl::StatusOr<CompletionOutcome>> CommitIsolatingFailures(
    const std::vector<const Completion*>& batch, const CommitFn& commit) {
  std::vector<absl::StatusOr<CompletionOutcome>> results =
      CommitRetryingConflicts([&] { return commit(batch); });
  if (batch.size() < 2) return results;
  int isolated = 0;
  for (size_t i = 0; i < batch.size() && i < results.size(); ++i) {
    if (!absl::IsInternal(results[i].status())) continue;
    std::vector<absl::StatusOr<CompletionOutcome>> alone =
        CommitRetryingConflicts([&] { return commit({batch[i]}); });
    if (!alone.empty()) results[i] = std::move(alone[0]);
    ++isolated;
  }
  if (isolated > 0) {
    LOG(WARNING) << "a group of " << batch.size() << " completion(s) failed as a whole; "
                 << isolated << " committed again one at a time";
  }
  return results;
}

}  // namespace sluice
