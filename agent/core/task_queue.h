// TaskQueue is the bounded hand-off between the leaser and the workers.
// The leaser only asks the coordinator for more when the queue runs low, so
// the agent holds at most a couple of batches: memory stays flat however
// large the coordinator's queue is.
//
// Thread-safety: all methods are safe from any thread.
#ifndef SLUICE_AGENT_CORE_TASK_QUEUE_H_
#define SLUICE_AGENT_CORE_TASK_QUEUE_H_

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "sluice/v1/agent.pb.h"

namespace sluice::agent {

class TaskQueue {
 public:
  // Appends tasks. Once closed, appends nothing and returns the tasks given,
  // which the caller still owns (their leases must be released).
  std::vector<sluice::v1::Task> Push(std::vector<sluice::v1::Task> tasks) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return tasks;
      for (auto& t : tasks) tasks_.push_back(std::move(t));
    }
    not_empty_.notify_all();
    return {};
  }

  // Blocks for a task; nullopt once closed.
  std::optional<sluice::v1::Task> Pop() {
    std::unique_lock<std::mutex> lock(mu_);
    not_empty_.wait(lock, [this] { return closed_ || !tasks_.empty(); });
    if (closed_) return std::nullopt;
    sluice::v1::Task task = std::move(tasks_.front());
    tasks_.pop_front();
    room_.notify_all();
    return task;
  }

  // Blocks until fewer than `n` tasks are queued; false once closed.
  bool WaitForRoom(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    room_.wait(lock, [&] { return closed_ || tasks_.size() < n; });
    return !closed_;
  }

  // Closes the queue and returns what was still queued.
  std::vector<sluice::v1::Task> Close() {
    std::vector<sluice::v1::Task> left;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      left.assign(std::make_move_iterator(tasks_.begin()), std::make_move_iterator(tasks_.end()));
      tasks_.clear();
    }
    not_empty_.notify_all();
    room_.notify_all();
    return left;
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return tasks_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable room_;
  std::deque<sluice::v1::Task> tasks_;
  bool closed_ = false;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_CORE_TASK_QUEUE_H_
