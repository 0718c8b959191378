#include "agent/core/completion_coalescer.h"

#include <glog/logging.h>

#include <algorithm>
#include <future>
#include <memory>
#include <utility>

namespace sluice::agent {
namespace {

CompletionCoalescerOptions Normalize(CompletionCoalescerOptions o) {
  o.max_batch = std::clamp(o.max_batch, 1, 1000);
  o.coalesce = std::max(o.coalesce, std::chrono::microseconds::zero());
  o.senders = std::max(o.senders, 1);
  if (o.max_pending <= 0) o.max_pending = 4 * o.max_batch;
  o.max_pending = std::max(o.max_pending, o.max_batch);
  if (o.max_pending_bytes == 0) o.max_pending_bytes = 4 * o.max_bytes;
  o.max_pending_bytes = std::max(o.max_pending_bytes, o.max_bytes);
  return o;
}

}  // namespace

CompletionCoalescer::CompletionCoalescer(CompletionCoalescerOptions options, TaskService* tasks)
    : options_(Normalize(options)), tasks_(tasks) {
  CHECK(tasks_ != nullptr);
  if (options_.coalesce == std::chrono::microseconds::zero()) return;
  for (int i = 0; i < options_.senders; ++i) senders_.emplace_back([this] { SenderLoop(); });
}

CompletionCoalescer::~CompletionCoalescer() { Shutdown(); }

bool CompletionCoalescer::FullLocked() const {
  return waiting_.size() >= static_cast<size_t>(options_.max_batch) ||
         waiting_bytes_ >= options_.max_bytes;
}

bool CompletionCoalescer::NoRoomLocked(size_t bytes) const {
  if (pending_ == 0) return false;  // a completion larger than the bound goes alone
  return pending_ >= options_.max_pending || pending_bytes_ + bytes > options_.max_pending_bytes;
}

int64_t CompletionCoalescer::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pending_;
}

void CompletionCoalescer::SendAlone(const sluice::v1::CompleteTaskRequest& request,
                                    const Done& done) {
  calls_.fetch_add(1, std::memory_order_relaxed);
  done(tasks_->CompleteTask(request));
}

void CompletionCoalescer::Submit(sluice::v1::CompleteTaskRequest request, Done done) {
  if (senders_.empty()) {
    SendAlone(request, done);
    return;
  }
  const size_t bytes = request.ByteSizeLong();
  std::unique_lock<std::mutex> lock(mu_);
  room_cv_.wait(lock, [&] { return stop_ || !NoRoomLocked(bytes); });
  if (stop_) {
    // Shut down: nobody sends for it any more.
    lock.unlock();
    SendAlone(request, done);
    return;
  }
  ++pending_;
  pending_bytes_ += bytes;
  waiting_.push_back(Pending{std::move(request), std::move(done), bytes,
                             std::chrono::steady_clock::now()});
  waiting_bytes_ += bytes;
  // The first one waiting starts a sender's clock; a full batch ends it.
  if (waiting_.size() == 1 || FullLocked()) work_cv_.notify_one();
}

CompletionCoalescer::Result CompletionCoalescer::Complete(
    const sluice::v1::CompleteTaskRequest& request) {
  // Shared: the sender may still be inside set_value when this returns.
  auto answer = std::make_shared<std::promise<Result>>();
  std::future<Result> result = answer->get_future();
  Submit(request, [answer](Result r) { answer->set_value(std::move(r)); });
  return result.get();
}

void CompletionCoalescer::SenderLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stop_ || !waiting_.empty(); });
    if (waiting_.empty()) return;  // stopping, and nothing left to send
    // Wait for the batch to fill, but not longer than `coalesce` after its
    // oldest completion began to wait (nor at all while someone flushes).
    const auto deadline = waiting_.front().since + options_.coalesce;
    auto ready = [&] { return stop_ || flushing_ > 0 || waiting_.empty() || FullLocked(); };
    work_cv_.wait_until(lock, deadline, ready);
    if (waiting_.empty()) continue;  // another sender took them
    // Another sender may have taken the batch this one timed; the one now
    // oldest has its own clock.
    if (!ready() && std::chrono::steady_clock::now() < waiting_.front().since + options_.coalesce) {
      continue;
    }
    std::vector<Pending> batch;
    size_t bytes = 0;
    while (!waiting_.empty() && batch.size() < static_cast<size_t>(options_.max_batch)) {
      Pending& next = waiting_.front();
      if (!batch.empty() && bytes + next.bytes > options_.max_bytes) break;
      bytes += next.bytes;
      waiting_bytes_ -= next.bytes;
      batch.push_back(std::move(next));
      waiting_.pop_front();
    }
    // What is left is timed (or sent) by another sender while this batch travels.
    if (!waiting_.empty()) work_cv_.notify_one();
    lock.unlock();

    sluice::v1::CompleteTasksRequest many;
    for (Pending& p : batch) many.add_completions()->Swap(&p.request);
    calls_.fetch_add(1, std::memory_order_relaxed);
    std::vector<Result> results = tasks_->CompleteTasks(many);
    CHECK_EQ(results.size(), batch.size()) << "CompleteTasks must answer every completion";
    for (size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));

    lock.lock();
    pending_ -= static_cast<int64_t>(batch.size());
    pending_bytes_ -= bytes;
    room_cv_.notify_all();
  }
}

void CompletionCoalescer::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  ++flushing_;
  work_cv_.notify_all();
  room_cv_.wait(lock, [&] { return pending_ == 0; });
  --flushing_;
}

void CompletionCoalescer::Shutdown() {
  Flush();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  work_cv_.notify_all();
  room_cv_.notify_all();
  for (auto& s : senders_) s.join();
}

}  // namespace sluice::agent
