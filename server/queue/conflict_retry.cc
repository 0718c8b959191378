#include "server/queue/conflict_retry.h"

#include <algorithm>
#include <random>
#include <thread>

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

}  // namespace sluice
