// Agent is one Sluice agent process's engine: it leases tasks of the kinds
// its handlers serve, runs them on `workers` threads (rate token -> HTTP ->
// handler -> result), keeps long-running leases alive, and drains on Stop().
//
//   leaser ──LeaseTasks──► TaskQueue ──► workers ──► RateGate.Acquire
//                                               ──► UpstreamClient.Get
//                                               ──► DecideOutcome
//                                               ──► CompletionCoalescer
//                                                   (CompleteTasks, answered on
//                                                   its own threads) / FailTask
//   extender ──ExtendLease for leases past half their duration
//
// The core never names a task kind: kinds come from the HandlerSet.
//
// Ownership: owns every collaborator passed in. Thread-safety: Start/Stop
// from one controlling thread; stats() from anywhere.
#ifndef SLUICE_AGENT_CORE_AGENT_H_
#define SLUICE_AGENT_CORE_AGENT_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "agent/coordinator/task_service.h"
#include "agent/core/agent_observer.h"
#include "agent/core/completion_coalescer.h"
#include "agent/core/lease_sizer.h"
#include "agent/core/lease_tracker.h"
#include "agent/core/outcome.h"
#include "agent/core/task_queue.h"
#include "agent/handlers/handler_registry.h"
#include "agent/http/upstream_client.h"
#include "agent/throttle/rate_gate.h"
#include "common/clock.h"
#include "common/logging/log_context.h"

namespace sluice::agent {

struct AgentOptions {
  // Shown in the coordinator's queue status; "host:pid" by default.
  std::string agent_id;
  // Told of each upstream call and token wait (metrics); borrowed, may be
  // null; must outlive the agent.
  AgentObserver* observer = nullptr;
  // Concurrent tasks (seed 000's WORKER_COUNT).
  int workers = 4;
  // Tasks per LeaseTasks call; 0 = adaptive: a quarter second of work at
  // the pace tasks finish here, at least 2 x workers, at most 1000
  // (LeaseSizer). The leaser asks for the next batch as soon as fewer than
  // one batch is waiting, so workers run on while it travels and never wait
  // on a lease round trip at steady state; at most 2 x the batch + workers
  // leases are held.
  int max_tasks = 0;
  Duration lease_duration = std::chrono::seconds(60);
  // LeaseTasks long-poll: how long the coordinator may wait for work.
  Duration lease_wait = std::chrono::seconds(2);
  // How long a worker waits for the rate token of a task's first call. When
  // the throttler says the budget has no room before then, the task goes
  // back to the queue until the budget's next permitted time (costing no
  // attempt) and the worker takes the next task: no worker idles on a spent
  // budget while other work can run.
  Duration token_wait = std::chrono::milliseconds(250);
  // How long a worker waits for the token of a later call of a multi-call
  // task (the next page) before giving the task back.
  Duration acquire_timeout = std::chrono::minutes(5);
  // Stop(): how long in-flight results may keep retrying an unreachable
  // coordinator before they are abandoned.
  Duration drain_timeout = std::chrono::seconds(20);
  // Completions per CompleteTasks call, and how long the oldest waiting
  // completion waits for others (0 = one CompleteTask call per task, made
  // by the worker, which waits for it); see CompletionCoalescer. Workers
  // hand their completions over and go on: two batches travel at once and
  // at most 4 x complete_batch_max completions are pending before workers
  // wait for room. 5 ms: 2 ms sent batches of about 60 where 5 ms sends
  // full ones (bench/agent_path_bench); a result lands 5 ms later at
  // worst, next to an upstream call's tens of milliseconds. 300, not 100:
  // the coordinator commits concurrent batches together, and with two
  // agents the agent path ran at 0.71-0.80 of the 32-client reference with
  // batches of 100 and 0.80-1.06 with 300 (agent_path_bench --tasks=50000
  // --rounds=3, three runs each).
  int complete_batch_max = 300;
  Duration complete_coalesce = std::chrono::milliseconds(5);
  // How often leases are checked for extension.
  Duration extend_interval = std::chrono::seconds(1);
  // A progress line in the log this often; 0 = never.
  Duration log_interval = std::chrono::seconds(60);
};

// Counters since Start(). "done" counts tasks the coordinator accepted as
// complete (including 304s); "failed" counts accepted FailTask reports for
// tasks that were attempted upstream.
struct AgentStats {
  int64_t tasks_leased = 0;
  int64_t tasks_done = 0;
  int64_t complete_calls = 0;  // CompleteTasks calls (CompleteTask with coalescing off)
  int64_t not_modified = 0;    // 304s (also counted in tasks_done)
  int64_t tasks_failed = 0;
  int64_t tasks_failed_permanent = 0;  // subset of tasks_failed
  int64_t tasks_released = 0;          // given back without an upstream call
  int64_t tasks_deferred = 0;          // of which because their budget had no room
  int64_t leases_lost = 0;             // result or extension rejected: lease superseded
  int64_t upstream_requests = 0;
  int64_t upstream_errors = 0;     // transport errors and HTTP statuses >= 300 except 304
  int64_t bad_bodies = 0;          // 2xx the handler could not use
  int64_t inconsistent_reads = 0;  // paged reads whose pages disagreed (esi_pages.h)
  int64_t rate_limited = 0;        // 420/429 answers
  int64_t report_errors = 0;       // results the coordinator never acknowledged
  int64_t lease_errors = 0;        // failed LeaseTasks calls
  int64_t leases_held = 0;         // task leases held now (not a counter)
};

class Agent {
 public:
  Agent(AgentOptions options, HandlerSet handlers, std::unique_ptr<TaskService> tasks,
        std::unique_ptr<RateGate> gate, std::unique_ptr<UpstreamClient> upstream,
        const Clock* clock = SystemClock::Get());
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Starts the leaser, workers and extender. FAILED_PRECONDITION if there is
  // no handler or Start was already called.
  absl::Status Start();
  // Drains: stops leasing, gives back queued tasks, lets running tasks finish
  // (tasks still waiting for a rate token are given back), returns unspent
  // rate tokens, then returns. Idempotent; also called by the destructor.
  void Stop();

  AgentStats stats() const;
  // The kinds this agent leases.
  const std::vector<std::string>& kinds() const { return kinds_; }
  const AgentOptions& options() const { return options_; }

 private:
  struct Counters {
    std::atomic<int64_t> tasks_leased{0}, tasks_done{0}, not_modified{0}, tasks_failed{0},
        tasks_failed_permanent{0}, tasks_released{0}, tasks_deferred{0}, leases_lost{0},
        upstream_requests{0}, upstream_errors{0}, bad_bodies{0}, rate_limited{0}, report_errors{0},
        lease_errors{0};
    std::atomic<int64_t> inconsistent_reads{0};
  };

  // This agent's id for its threads' log lines (several agents may share a
  // process in tests).
  logging::LogIds AgentLogIds() const;
  void LeaseLoop();
  // The kinds worth leasing now: not those whose route the throttler said
  // has no room before *wake (the earliest such time).
  std::vector<std::string> LeasableKinds(TimePoint now, TimePoint* wake);
  void WorkerLoop();
  void ExtendLoop();
  void ProcessTask(const sluice::v1::Task& task);
  // One rate-gated upstream call, reported to the throttler. Sets *failure
  // when there was no HTTP answer, and *refusal when there was no token by
  // `token_deadline`.
  absl::StatusOr<HttpResponse> GatedGet(const BoundHandler& bound, const sluice::v1::Task& task,
                                        const UpstreamRequest& request, TimePoint token_deadline,
                                        FetchFailure* failure, GateRefusal* refusal);
  // A 420, or a 429 on a public ESI call, limits this address, not the
  // task: hand it back for another agent, without an attempt, at once or,
  // when pages were already read, once their latest Expires (`not_before`)
  // has passed.
  void HandBackIfThisAddressIsLimited(const Route& route, TaskOutcome* outcome,
                                      std::optional<TimePoint> not_before = std::nullopt);
  // A task whose budget had no room: back to the queue until it has.
  void Defer(const sluice::v1::Task& task, const absl::Status& why, const GateRefusal& refusal);
  void CountOutcome(OutcomeClass cls);
  // Sends the outcome to the coordinator: a failure at once, a completion
  // through the coalescer, which answers later on its own thread.
  void Deliver(const sluice::v1::Task& task, const TaskOutcome& outcome);
  // The coordinator's answer to a task's outcome: counts a lost lease or an
  // undelivered result and stops tracking the lease.
  void Answered(const sluice::v1::Task& task, const absl::Status& status);
  void Release(const sluice::v1::Task& task, const std::string& reason,
               Duration retry_after = Duration::zero());
  // Sleeps unless Stop() begins; false if interrupted.
  bool SleepUnlessStopping(Duration d);
  void LogProgress();

  const AgentOptions options_;
  const HandlerSet handlers_;
  const std::vector<std::string> kinds_;
  const std::unique_ptr<TaskService> tasks_;
  // Onto tasks_; its answers touch counters_ and leases_, so Stop() flushes
  // it before any of them goes.
  CompletionCoalescer completions_;
  const std::unique_ptr<RateGate> gate_;
  const std::unique_ptr<UpstreamClient> upstream_;
  const Clock* const clock_;
  LeaseSizer lease_size_;     // the leaser thread's
  bool leased_once_ = false;  // the leaser thread's

  TaskQueue queue_;
  LeaseTracker leases_;
  // Kinds not leased here until their time: this address had no room.
  std::mutex blocks_mu_;
  std::map<std::string, TimePoint> kind_blocked_until_;  // guarded by blocks_mu_
  Counters counters_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;
  bool stopping_ = false;       // guarded by mu_
  bool extender_stop_ = false;  // guarded by mu_
  bool stopped_ = false;        // guarded by mu_
  std::thread leaser_;
  std::thread extender_;
  std::vector<std::thread> workers_;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_CORE_AGENT_H_
