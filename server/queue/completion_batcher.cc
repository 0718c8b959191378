#include "server/queue/completion_batcher.h"

namespace sluice {

absl::StatusOr<CompletionOutcome> CompletionBatcher::Commit(const Completion& completion,
                                                            TimePoint now, TimePoint fresh_after) {
  Writer self;
  self.completion = &completion;
  std::unique_lock<std::mutex> lock(mu_);
  writers_.push_back(&self);
  self.cv.wait(lock, [&] { return self.done || writers_.front() == &self; });
  if (self.done) return std::move(self.result);

  // Leader: take what is queued behind us.
  std::vector<Writer*> group;
  for (Writer* w : writers_) {
    group.push_back(w);
    if (static_cast<int>(group.size()) >= max_batch_) break;
  }
  lock.unlock();
  std::vector<const Completion*> batch;
  batch.reserve(group.size());
  for (Writer* w : group) batch.push_back(w->completion);
  std::vector<absl::StatusOr<CompletionOutcome>> results;
  // A serialisation failure or deadlock with another transaction aborts the
  // whole batch before anything is written: retry it.
  for (int attempt = 0; attempt < 3; ++attempt) {
    results = store_->CompleteBatch(batch, now, fresh_after);
    bool aborted = false;
    for (const auto& r : results) aborted |= absl::IsAborted(r.status());
    if (!aborted) break;
  }
  lock.lock();
  for (size_t i = 0; i < group.size(); ++i) {
    writers_.pop_front();
    group[i]->result = std::move(results[i]);
    group[i]->done = true;
    if (group[i] != &self) group[i]->cv.notify_one();
  }
  if (!writers_.empty()) writers_.front()->cv.notify_one();
  return std::move(self.result);
}

}  // namespace sluice
