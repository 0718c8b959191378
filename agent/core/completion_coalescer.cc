#include "agent/core/completion_coalescer.h"

#include <glog/logging.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace sluice::agent {
namespace {

CompletionCoalescerOptions Normalize(CompletionCoalescerOptions o) {
  o.max_batch = std::clamp(o.max_batch, 1, 1000);
  o.coalesce = std::max(o.coalesce, std::chrono::microseconds::zero());
  return o;
}

}  // namespace

CompletionCoalescer::CompletionCoalescer(CompletionCoalescerOptions options, TaskService* tasks)
    : options_(Normalize(options)), tasks_(tasks) {
  CHECK(tasks_ != nullptr);
}

bool CompletionCoalescer::FullLocked() const {
  return waiting_.size() >= static_cast<size_t>(options_.max_batch) ||
         waiting_bytes_ >= options_.max_bytes;
}

absl::StatusOr<sluice::v1::CompleteTaskResponse> CompletionCoalescer::Complete(
    const sluice::v1::CompleteTaskRequest& request) {
  if (options_.coalesce == std::chrono::microseconds::zero()) {
    calls_.fetch_add(1, std::memory_order_relaxed);
    return tasks_->CompleteTask(request);
  }

  Waiter w;
  w.request = &request;
  w.bytes = request.ByteSizeLong();
  w.since = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  waiting_.push_back(&w);
  waiting_bytes_ += w.bytes;
  // The leader waits on its own condition variable for the batch to fill.
  if (FullLocked()) waiting_.front()->cv.notify_one();
  // Taken into a batch, a completion leaves waiting_ before it is done.
  w.cv.wait(lock, [&] { return w.done || (!waiting_.empty() && waiting_.front() == &w); });
  if (w.done) return std::move(w.result);

  // This completion leads the next batch: wait for it to fill, but not
  // longer than `coalesce` after this completion began to wait.
  w.cv.wait_until(lock, w.since + options_.coalesce, [&] { return FullLocked(); });
  std::vector<Waiter*> batch;
  size_t bytes = 0;
  while (!waiting_.empty() && batch.size() < static_cast<size_t>(options_.max_batch)) {
    Waiter* next = waiting_.front();
    if (!batch.empty() && bytes + next->bytes > options_.max_bytes) break;
    bytes += next->bytes;
    waiting_bytes_ -= next->bytes;
    waiting_.pop_front();
    batch.push_back(next);
  }
  // The first one left leads the next batch now, while this one travels.
  if (!waiting_.empty()) waiting_.front()->cv.notify_one();
  lock.unlock();

  sluice::v1::CompleteTasksRequest many;
  for (const Waiter* b : batch) *many.add_completions() = *b->request;
  calls_.fetch_add(1, std::memory_order_relaxed);
  std::vector<absl::StatusOr<sluice::v1::CompleteTaskResponse>> results =
      tasks_->CompleteTasks(many);
  CHECK_EQ(results.size(), batch.size()) << "CompleteTasks must answer every completion";

  lock.lock();
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i]->result = std::move(results[i]);
    batch[i]->done = true;
    if (batch[i] != &w) batch[i]->cv.notify_one();
  }
  return std::move(w.result);
}

}  // namespace sluice::agent
