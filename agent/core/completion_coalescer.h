// CompletionCoalescer turns the completions of concurrent workers into
// batched CompleteTasks calls: at high task rates one RPC (and one
// coordinator transaction) per task is what limits an agent, and a call for
// a batch costs little more than a call for one task.
//
// Delivery is asynchronous: a worker hands its CompleteTaskRequest to
// Submit() with what to do once the answer is back (the caller's counters,
// its lease tracking, lost-lease handling) and takes its next task at once.
// The coalescer owns the completion from then on: `senders` threads of its
// own form the batches and deliver them, and each completion's `done` runs
// on the sender's thread once its own answer is known. So no worker waits
// on a round trip; Complete() is the blocking form (Submit, then wait).
//
// Batches form the way LevelDB batches writes: a sender takes the waiting
// completions, oldest first, once `max_batch` completions (or `max_bytes`
// of them) wait, or `coalesce` after the oldest began to wait, whichever
// comes first. Up to `senders` batches are in flight at once, so the next
// batch fills while one travels. Completions leave in the order they were
// submitted; each task has one completion, so no order between answers is
// promised beyond that. With `coalesce` zero there is no coalescing: every
// completion is its own CompleteTask call, made by the submitting thread.
//
// Memory is bounded: at most `max_pending` completions (and `max_pending_bytes`
// of them; a larger completion is taken alone when none is pending) are
// submitted and not yet answered; Submit blocks beyond that (back-pressure:
// while the coordinator is unreachable, workers stop rather than pile up
// results).
//
// Retries are the TaskService's: a batch is retried while the coordinator
// is unreachable exactly as a single CompleteTask is, and so are single
// completions of a batch the coordinator could not commit (nothing is lost
// while it restarts or fails over: each result cost a rate token, and the
// submitter keeps its lease alive until `done` runs). A completion refused
// for itself (a stale fencing token: FAILED_PRECONDITION) reaches only its
// own `done`. FailTask is not coalesced: failures are rare and go one call
// each, straight to the TaskService.
//
// Flush() waits until every completion submitted so far has been answered
// (an agent's drain); Shutdown() flushes and stops the senders. Answers
// that never come are ended by TaskService::AbortRetries, which makes the
// retrying call return its last error to each `done`.
//
// Ownership: borrows the TaskService, which must outlive it; the destructor
// shuts down. Thread-safety: Submit, Complete and Flush may be called from
// any number of threads; `done` callbacks run on the coalescer's threads
// (or the submitter's with `coalesce` zero) and must not call Flush or
// Shutdown.
#ifndef SLUICE_AGENT_CORE_COMPLETION_COALESCER_H_
#define SLUICE_AGENT_CORE_COMPLETION_COALESCER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/coordinator/task_service.h"
#include "sluice/v1/agent.pb.h"

namespace sluice::agent {

struct CompletionCoalescerOptions {
  // Completions per CompleteTasks call; clamped to 1..1000 (the
  // coordinator's limit).
  int max_batch = 100;
  // How long the oldest waiting completion waits for others; zero = one
  // CompleteTask call per completion, made by the submitter.
  std::chrono::microseconds coalesce = std::chrono::milliseconds(2);
  // A batch is sent once its completions reach this many serialized bytes:
  // batching must not turn completions that each fit the coordinator's
  // message limit (gRPC's default 4 MiB) into one that does not. A larger
  // completion goes alone.
  size_t max_bytes = 2 << 20;
  // Batches in flight at once (sender threads); at least 1.
  int senders = 2;
  // Completions submitted and not yet answered before Submit blocks; at
  // least max_batch. 0 = 4 x max_batch: two batches in flight and two
  // filling.
  int max_pending = 0;
  // The same bound in serialized bytes; 0 = 4 x max_bytes.
  size_t max_pending_bytes = 0;
};

class CompletionCoalescer {
 public:
  using Result = absl::StatusOr<sluice::v1::CompleteTaskResponse>;
  using Done = std::function<void(Result)>;

  CompletionCoalescer(CompletionCoalescerOptions options, TaskService* tasks);
  ~CompletionCoalescer();
  CompletionCoalescer(const CompletionCoalescer&) = delete;
  CompletionCoalescer& operator=(const CompletionCoalescer&) = delete;

  // Hands over one completion; `done` gets its own answer, as
  // TaskService::CompleteTask gives it, once it is known. Returns at once
  // unless max_pending completions are pending (then once one is answered).
  // After Shutdown() the completion is sent at once by the caller.
  void Submit(sluice::v1::CompleteTaskRequest request, Done done);

  // Completes one task and waits for its answer.
  Result Complete(const sluice::v1::CompleteTaskRequest& request);

  // Waits until no completion is pending (every `done` has returned);
  // what waits is sent without waiting out `coalesce`.
  void Flush();
  // Flushes, then stops the sender threads. Idempotent.
  void Shutdown();

  // Calls made to the TaskService so far (one per batch, or per
  // completion with `coalesce` zero); its own retries are not counted.
  int64_t calls() const { return calls_.load(std::memory_order_relaxed); }
  // Completions submitted and not yet answered.
  int64_t pending() const;
  const CompletionCoalescerOptions& options() const { return options_; }

 private:
  struct Pending {
    sluice::v1::CompleteTaskRequest request;
    Done done;
    size_t bytes;
    std::chrono::steady_clock::time_point since;
  };

  // Whether the completions waiting make a full batch. Requires mu_.
  bool FullLocked() const;
  // Whether a pending completion of `bytes` must wait for room. Requires mu_.
  bool NoRoomLocked(size_t bytes) const;
  void SenderLoop();
  // One completion straight to CompleteTask on this thread.
  void SendAlone(const sluice::v1::CompleteTaskRequest& request, const Done& done);

  const CompletionCoalescerOptions options_;
  TaskService* const tasks_;
  std::atomic<int64_t> calls_{0};
  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // senders: a completion waits, or stop
  std::condition_variable room_cv_;  // submitters and flushers: one was answered
  std::deque<Pending> waiting_;      // not yet in a batch, oldest first; guarded by mu_
  size_t waiting_bytes_ = 0;         // of waiting_; guarded by mu_
  int64_t pending_ = 0;              // submitted, not answered; guarded by mu_
  size_t pending_bytes_ = 0;         // of those; guarded by mu_
  int flushing_ = 0;                 // Flush calls waiting; guarded by mu_
  bool stop_ = false;                // guarded by mu_
  std::vector<std::thread> senders_;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_CORE_COMPLETION_COALESCER_H_
