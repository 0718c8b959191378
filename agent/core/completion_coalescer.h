// CompletionCoalescer turns the completions of concurrent workers into
// batched CompleteTasks calls: at high task rates one RPC (and one
// coordinator transaction) per task is what limits an agent, and a call for
// a batch costs little more than a call for one task. A worker hands it its
// CompleteTaskRequest and blocks until its own task's answer is back, so
// the caller's counters and lease-lost handling do not change.
//
// Batches form the way LevelDB batches writes: the first completion to wait
// leads its batch. It sends once `max_batch` completions (or `max_bytes` of
// them) wait, or `coalesce` after it began to wait, whichever comes first;
// then it hands every completion of the batch its own result. The next
// completion waiting leads the next batch at once, so several batches may
// be in flight (at most one per worker). With `coalesce` zero every
// completion is its own CompleteTask call, as before batching.
//
// Retries are the TaskService's: a batch is retried while the coordinator
// is unreachable exactly as a single CompleteTask is, and so are single
// completions of a batch the coordinator could not commit (nothing is lost
// while it restarts: each result cost a rate token). A completion refused
// for itself (a stale fencing token: FAILED_PRECONDITION) reaches only its
// own worker. FailTask is not coalesced: failures are rare and go one call
// each, straight to the TaskService.
//
// Ownership: borrows the TaskService, which must outlive it. Thread-safety:
// Complete may be called from any number of threads; the coalescer must
// outlive every call in progress.
#ifndef SLUICE_AGENT_CORE_COMPLETION_COALESCER_H_
#define SLUICE_AGENT_CORE_COMPLETION_COALESCER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>

#include "absl/status/statusor.h"
#include "agent/coordinator/task_service.h"
#include "sluice/v1/agent.pb.h"

namespace sluice::agent {

struct CompletionCoalescerOptions {
  // Completions per CompleteTasks call; clamped to 1..1000 (the
  // coordinator's limit).
  int max_batch = 100;
  // How long the first completion of a batch waits for others; zero = one
  // CompleteTask call per completion.
  std::chrono::microseconds coalesce = std::chrono::milliseconds(2);
  // A batch is sent once its completions reach this many serialized bytes:
  // batching must not turn completions that each fit the coordinator's
  // message limit (gRPC's default 4 MiB) into one that does not. A larger
  // completion goes alone.
  size_t max_bytes = 2 << 20;
};

class CompletionCoalescer {
 public:
  CompletionCoalescer(CompletionCoalescerOptions options, TaskService* tasks);
  CompletionCoalescer(const CompletionCoalescer&) = delete;
  CompletionCoalescer& operator=(const CompletionCoalescer&) = delete;

  // Completes one task: its own answer, as TaskService::CompleteTask gives.
  absl::StatusOr<sluice::v1::CompleteTaskResponse> Complete(
      const sluice::v1::CompleteTaskRequest& request);

  // Calls made to the TaskService so far (one per batch, or per
  // completion with `coalesce` zero); its own retries are not counted.
  int64_t calls() const { return calls_.load(std::memory_order_relaxed); }
  const CompletionCoalescerOptions& options() const { return options_; }

 private:
  struct Waiter {
    const sluice::v1::CompleteTaskRequest* request;
    size_t bytes;
    std::chrono::steady_clock::time_point since;
    absl::StatusOr<sluice::v1::CompleteTaskResponse> result;
    bool done = false;
    std::condition_variable cv;
  };

  // Whether the completions waiting make a full batch. Requires mu_.
  bool FullLocked() const;

  const CompletionCoalescerOptions options_;
  TaskService* const tasks_;
  std::atomic<int64_t> calls_{0};
  std::mutex mu_;
  std::deque<Waiter*> waiting_;  // not yet in a batch, oldest first; guarded by mu_
  size_t waiting_bytes_ = 0;     // of waiting_; guarded by mu_
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_CORE_COMPLETION_COALESCER_H_
