#include "server/queue/completion_batcher.h"

#include <glog/logging.h>

#include "server/queue/conflict_retry.h"

namespace sluice {

absl::StatusOr<CompletionOutcome> CompletionBatcher::Commit(const Completion& completion,
                                                            TimePoint now, TimePoint fresh_after) {
  Writer self;
  self.completion = &completion;
  std::unique_lock<std::mutex> lock(mu_);
  waiting_.push_back(&self);
  self.cv.wait(lock, [&] {
    return self.done || (!self.taken && leaders_ < max_leaders_ && waiting_.front() == &self);
  });
  if (self.done) return std::move(self.result);

  // Leader: take what is queued behind us, and let the next waiter lead the
  // next group if a leader slot is free.
  std::vector<Writer*> group;
  while (!waiting_.empty() && static_cast<int>(group.size()) < max_batch_) {
    Writer* w = waiting_.front();
    waiting_.pop_front();
    w->taken = true;
    group.push_back(w);
  }
  ++leaders_;
  if (!waiting_.empty()) waiting_.front()->cv.notify_one();
  lock.unlock();

  std::vector<const Completion*> batch;
  batch.reserve(group.size());
  for (Writer* w : group) batch.push_back(w->completion);
  const auto started = std::chrono::steady_clock::now();
  // A serialisation failure or deadlock with another transaction aborts the
  // whole group before anything is written: retry it. One completion whose
  // data the database refuses must not fail the others' callers.
  std::vector<absl::StatusOr<CompletionOutcome>> results =
      CommitIsolatingFailures(batch, [&](const std::vector<const Completion*>& part) {
        return store_->CompleteBatch(part, now, fresh_after);
      });
  VLOG(1) << "group commit of " << batch.size() << " completion(s) took "
          << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                 .count()
          << " ms";

  lock.lock();
  --leaders_;
  for (size_t i = 0; i < group.size(); ++i) {
    group[i]->result = std::move(results[i]);
    group[i]->done = true;
    if (group[i] != &self) group[i]->cv.notify_one();
  }
  if (!waiting_.empty()) waiting_.front()->cv.notify_one();
  return std::move(self.result);
}

}  // namespace sluice
