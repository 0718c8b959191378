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

namespace {

// Commits the completions at `at` (indexes into batch) in halves, each half
// split again while it fails, until every INTERNAL answer comes from a
// completion committed alone. Counts the transactions run.
void CommitInHalves(const std::vector<const Completion*>& batch, const std::vector<size_t>& at,
                    const CommitFn& commit, std::vector<absl::StatusOr<CompletionOutcome>>* results,
                    int* transactions) {
  const size_t mid = at.size() / 2;
  for (const std::vector<size_t>& half : {std::vector<size_t>(at.begin(), at.begin() + mid),
                                          std::vector<size_t>(at.begin() + mid, at.end())}) {
    if (half.empty()) continue;
    std::vector<const Completion*> part;
    for (size_t i : half) part.push_back(batch[i]);
    std::vector<absl::StatusOr<CompletionOutcome>> answers =
        CommitRetryingConflicts([&] { return commit(part); });
    ++*transactions;
    std::vector<size_t> failed;
    for (size_t j = 0; j < half.size() && j < answers.size(); ++j) {
      if (half.size() > 1 && absl::IsInternal(answers[j].status())) {
        failed.push_back(half[j]);
      } else {
        (*results)[half[j]] = std::move(answers[j]);
      }
    }
    if (!failed.empty()) CommitInHalves(batch, failed, commit, results, transactions);
  }
}

}  // namespace

std::vector<absl::StatusOr<CompletionOutcome>> CommitIsolatingFailures(
    const std::vector<const Completion*>& batch, const CommitFn& commit) {
  std::vector<absl::StatusOr<CompletionOutcome>> results =
      CommitRetryingConflicts([&] { return commit(batch); });
  if (batch.size() < 2) return results;
  std::vector<size_t> failed;
  for (size_t i = 0; i < batch.size() && i < results.size(); ++i) {
    if (absl::IsInternal(results[i].status())) failed.push_back(i);
  }
  if (failed.empty()) return results;
  // One refused completion among n costs about 2 log2(n) transactions this
  // way, not n: a group commit carries several agents' batches.
  int transactions = 0;
  CommitInHalves(batch, failed, commit, &results, &transactions);
  LOG(WARNING) << "a group of " << batch.size() << " completion(s) failed as a whole; "
               << failed.size() << " committed again in halves (" << transactions
               << " transaction(s))";
  return results;
}

}  // namespace sluice
