#include "server/queue/completion_batcher.h"

#include <glog/logging.h>

#include "server/queue/conflict_retry.h"

namespace sluice {

absl::StatusOr<CompletionOutcome> CompletionBatcher::Commit(const Completion& completion,
                                                            TimePoint now, TimePoint fresh_after) {
  std::vector<absl::StatusOr<CompletionOutcome>> results =
      CommitAll({&completion}, now, fresh_after);
  return std::move(results[0]);
}

std::vector<absl::StatusOr<CompletionOutcome>> CompletionBatcher::CommitAll(
    const std::vector<const Completion*>& completions, TimePoint now, TimePoint fresh_after) {
  Writer self;
  self.completions = &completions;
  std::unique_lock<std::mutex> lock(mu_);
  waiting_.push_back(&self);
  self.cv.wait(lock, [&] {
    return self.done || (!self.taken && leaders_ < max_leaders_ && waiting_.front() == &self);
  });
  if (self.done) return std::move(self.results);

  // Leader: take the callers queued behind us while their completions fit,
  // and let the next waiter lead the next group if a leader slot is free.
  std::vector<Writer*> group;
  size_t total = 0;
  while (!waiting_.empty()) {
    Writer* w = waiting_.front();
    const size_t n = w->completions->size();
    if (!group.empty() && total + n > static_cast<size_t>(max_batch_)) break;
    waiting_.pop_front();
    w->taken = true;
    group.push_back(w);
    total += n;
  }
  ++leaders_;
  if (!waiting_.empty()) waiting_.front()->cv.notify_one();
  lock.unlock();

  std::vector<const Completion*> batch;
  batch.reserve(total);
  for (Writer* w : group) batch.insert(batch.end(), w->completions->begin(), w->completions->end());
  const auto started = std::chrono::steady_clock::now();
  // A serialisation failure or deadlock with another transaction aborts the
  // whole group before anything is written: retry it. One completion whose
  // data the database refuses must not fail the others' callers.
  std::vector<absl::StatusOr<CompletionOutcome>> results = CommitIsolatingFailures(
      batch,
      [&](const std::vector<const Completion*>& part) { return commit_(part, now, fresh_after); });
  VLOG(1) << "group commit of " << batch.size() << " completion(s) from " << group.size()
          << " caller(s) took "
          << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                 .count()
          << " ms";

  lock.lock();
  --leaders_;
  size_t next = 0;
  for (Writer* w : group) {
    w->results.clear();
    for (size_t i = 0; i < w->completions->size(); ++i)
      w->results.push_back(std::move(results[next++]));
    w->done = true;
    if (w != &self) w->cv.notify_one();
  }
  if (!waiting_.empty()) waiting_.front()->cv.notify_one();
  return std::move(self.results);
}

}  // namespace sluice
