#include "agent/core/agent.h"

#include <glog/logging.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/core/backoff.h"
#include "common/http_date.h"
#include "common/logging/log_context.h"
#include "common/time_util.h"

namespace sluice::agent {
namespace {

// The most a LeaseTasks call may ask for (the coordinator's default bound,
// TaskQueueOptions::max_claim).
constexpr int kMaxLease = 1000;
// An adaptive lease holds this much work at the current pace: long enough
// to hide a lease round trip (milliseconds) with margin, short enough that
// few leased tasks sit waiting when the pace drops.
constexpr std::chrono::milliseconds kLeaseHorizon{250};

bool LeaseWasLost(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition ||
         status.code() == absl::StatusCode::kNotFound;
}

// A task's ids on every log line about it: the same task_id and run_id as
// the coordinator's lines for it, and its lease.
logging::LogIds TaskLogIds(const sluice::v1::Task& task) {
  logging::LogIds ids;
  ids.run_id = task.run_id();
  ids.task_id = task.task_id();
  ids.lease_id = task.fencing_token();
  return ids;
}

}  // namespace

Agent::Agent(AgentOptions options, HandlerSet handlers, std::unique_ptr<TaskService> tasks,
             std::unique_ptr<RateGate> gate, std::unique_ptr<UpstreamClient> upstream,
             const Clock* clock)
    : options_(std::move(options)),
      handlers_(std::move(handlers)),
      kinds_(handlers_.Kinds()),
      tasks_(std::move(tasks)),
      completions_(
          CompletionCoalescerOptions{
              options_.complete_batch_max,
              std::chrono::duration_cast<std::chrono::microseconds>(options_.complete_coalesce)},
          tasks_.get()),
      gate_(std::move(gate)),
      upstream_(std::move(upstream)),
      clock_(clock),
      lease_size_(options_.max_tasks, 2 * options_.workers, kMaxLease, kLeaseHorizon) {
  CHECK(tasks_ != nullptr);
  CHECK(gate_ != nullptr);
  CHECK(upstream_ != nullptr);
  CHECK_GE(options_.workers, 1);
}

Agent::~Agent() { Stop(); }

absl::Status Agent::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return absl::FailedPreconditionError("agent already started");
  if (kinds_.empty()) return absl::FailedPreconditionError("agent has no task handlers");
  started_ = true;
  LOG(INFO) << "agent " << options_.agent_id << " starting " << options_.workers
            << " worker(s) for kinds [" << absl::StrJoin(kinds_, ", ") << "]";
  leaser_ = std::thread([this] { LeaseLoop(); });
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  extender_ = std::thread([this] { ExtendLoop(); });
  return absl::OkStatus();
}

bool Agent::SleepUnlessStopping(Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

std::vector<std::string> Agent::LeasableKinds(TimePoint now, TimePoint* wake) {
  std::vector<std::string> out;
  *wake = TimePoint::max();
  std::lock_guard<std::mutex> lock(blocks_mu_);
  for (const std::string& kind : kinds_) {
    auto blocked = kind_blocked_until_.find(kind);
    if (blocked != kind_blocked_until_.end()) {
      if (blocked->second > now) {
        *wake = std::min(*wake, blocked->second);
        continue;
      }
      kind_blocked_until_.erase(blocked);
    }
    const BoundHandler* bound = handlers_.Find(kind);
    // A kind billed per task (each character its own bucket) cannot be
    // judged by one route; the others can: while their route's budget has
    // no room, leasing their tasks would only hand them back.
    if (bound != nullptr && bound->billing != Billing::kTaskCaller) {
      const TimePoint retry = gate_->RetryAt(bound->route);
      if (retry > now + options_.token_wait) {
        *wake = std::min(*wake, retry);
        continue;
      }
    }
    out.push_back(kind);
  }
  return out;
}

logging::LogIds Agent::AgentLogIds() const {
  logging::LogIds ids;
  ids.agent_id = options_.agent_id;
  return ids;
}

void Agent::LeaseLoop() {
  logging::ScopedLogIds ids(AgentLogIds());
  Backoff backoff(std::chrono::milliseconds(200), std::chrono::seconds(10));
  // Ask for the next batch while a whole one may still be waiting: the
  // workers run it while the lease travels, so they never wait on the round
  // trip unless a batch runs out faster than the coordinator answers (the
  // adaptive size grows then; a fixed max_tasks must be raised). Fewer than
  // 2 batches are ever queued.
  auto next_size = [this] {
    return lease_size_.Next(counters_.tasks_done + counters_.tasks_failed,
                            std::chrono::steady_clock::now());
  };
  for (int batch = next_size(); queue_.WaitForRoom(static_cast<size_t>(batch));
       batch = next_size()) {
    TimePoint wake;
    const std::vector<std::string> kinds = LeasableKinds(clock_->Now(), &wake);
    if (kinds.empty()) {
      // Every budget we could use is spent: nothing to lease before one has room.
      const Duration wait = std::clamp<Duration>(
          wake - clock_->Now(), std::chrono::milliseconds(10), options_.lease_wait);
      if (!SleepUnlessStopping(wait)) break;
      continue;
    }
    sluice::v1::LeaseTasksRequest request;
    request.set_agent_id(options_.agent_id);
    for (const auto& kind : kinds) request.add_kinds(kind);
    request.set_max_tasks(batch);
    // Until a lease succeeds: leases an earlier process with this id left
    // behind are ended at once instead of lapsing.
    request.set_new_process(!leased_once_);
    *request.mutable_lease_duration() = ToProtoDuration(options_.lease_duration);
    *request.mutable_wait() = ToProtoDuration(options_.lease_wait);
    auto asked_at = std::chrono::steady_clock::now();
    auto response = tasks_->LeaseTasks(request);
    if (!response.ok()) {
      ++counters_.lease_errors;
      auto wait = backoff.Next();
      LOG_EVERY_N(WARNING, 10) << "LeaseTasks failed: " << response.status() << "; retrying in "
                               << wait.count() << " ms (" << google::COUNTER << " failures)";
      if (!SleepUnlessStopping(wait)) break;
      continue;
    }
    backoff.Reset();
    leased_once_ = true;
    std::vector<sluice::v1::Task> leased(response->tasks().begin(), response->tasks().end());
    counters_.tasks_leased += static_cast<int64_t>(leased.size());
    for (const auto& task : leased) leases_.Add(task);
    bool got_tasks = !leased.empty();
    // A closed queue hands the tasks back: Stop() raced the long poll.
    for (const auto& task : queue_.Push(std::move(leased))) {
      Release(task, "agent draining; task released before start");
    }
    if (!got_tasks) {
      // The long poll should have waited; if the coordinator answered empty
      // at once, do not spin.
      auto elapsed = std::chrono::steady_clock::now() - asked_at;
      if (elapsed < options_.lease_wait / 2 &&
          !SleepUnlessStopping(std::max<Duration>(options_.lease_wait / 2 - elapsed,
                                                  std::chrono::milliseconds(100)))) {
        break;
      }
    }
  }
}

void Agent::WorkerLoop() {
  logging::ScopedLogIds ids(AgentLogIds());
  while (auto task = queue_.Pop()) ProcessTask(*task);
}

void Agent::ProcessTask(const sluice::v1::Task& task) {
  logging::ScopedLogIds ids(TaskLogIds(task));
  if (leases_.IsLost(task)) {
    ++counters_.leases_lost;
    leases_.Remove(task);
    LOG(WARNING) << task.kind() << " " << task.entity_id() << ": lease lost before start";
    return;
  }
  const BoundHandler* bound = handlers_.Find(task.kind());
  if (bound == nullptr) {
    Release(task, absl::StrCat("agent ", options_.agent_id, " has no handler for kind '",
                               task.kind(), "'"));
    return;
  }
  if (bound->handler->multi_request()) {
    // Each of the task's calls is gated and reported; the handler decides
    // when the task is done. The first call waits for its token only
    // briefly (a spent budget defers the task); later ones, with the task
    // half done, wait up to acquire_timeout.
    class GatedFetcher : public Fetcher {
     public:
      GatedFetcher(Agent* agent, const BoundHandler* bound, const sluice::v1::Task& task)
          : agent_(agent), bound_(bound), task_(task) {}
      absl::StatusOr<HttpResponse> Fetch(const UpstreamRequest& request) override {
        const Duration wait =
            calls_++ == 0 ? agent_->options_.token_wait : agent_->options_.acquire_timeout;
        absl::StatusOr<HttpResponse> response = agent_->GatedGet(
            *bound_, task_, request, agent_->clock_->Now() + wait, &failure, &refusal);
        if (response.ok()) {
          if (auto expires = response->headers.GetDate("Expires")) {
            if (!latest_expires || *expires > *latest_expires) latest_expires = expires;
          }
        }
        return response;
      }
      bool first_call_refused() const { return failure == FetchFailure::kNoToken && calls_ == 1; }
      FetchFailure failure = FetchFailure::kNone;
      GateRefusal refusal;
      // The latest Expires among the answers: the task's resources may not be
      // asked for again before it, whatever the outcome.
      std::optional<TimePoint> latest_expires;

     private:
      Agent* agent_;
      const BoundHandler* bound_;
      const sluice::v1::Task& task_;
      int calls_ = 0;
    };
    GatedFetcher fetcher(this, bound, task);
    absl::StatusOr<HandlerResult> run = bound->handler->Run(task, fetcher);
    if (fetcher.failure == FetchFailure::kNoToken && !run.ok()) {
      if (fetcher.first_call_refused()) {
        Defer(task, run.status(), fetcher.refusal);
      } else {
        TimePoint retry_at = fetcher.refusal.retry_at;
        if (fetcher.latest_expires) retry_at = std::max(retry_at, *fetcher.latest_expires);
        Release(task, std::string(run.status().message()),
                std::clamp<Duration>(retry_at - clock_->Now(), Duration::zero(), kMaxRetryAfter));
      }
      return;
    }
    TaskOutcome outcome = DecideRunOutcome(*bound->handler, task, options_.agent_id, run,
                                           fetcher.failure, fetcher.latest_expires, clock_->Now());
    HandBackIfThisAddressIsLimited(RouteFor(*bound, task), &outcome, fetcher.latest_expires);
    CountOutcome(outcome.cls);
    VLOG(1) << task.kind() << " " << task.entity_id() << " -> " << OutcomeClassName(outcome.cls);
    Deliver(task, outcome);
    return;
  }

  UpstreamRequest request = bound->handler->BuildRequest(task);
  if (!task.etag().empty()) request.headers.emplace_back("If-None-Match", task.etag());
  FetchFailure failure = FetchFailure::kNone;
  GateRefusal refusal;
  absl::StatusOr<HttpResponse> response =
      GatedGet(*bound, task, request, clock_->Now() + options_.token_wait, &failure, &refusal);
  if (failure == FetchFailure::kNoToken) {
    Defer(task, response.status(), refusal);
    return;
  }
  TaskOutcome outcome =
      DecideOutcome(*bound->handler, task, options_.agent_id, response, clock_->Now());
  HandBackIfThisAddressIsLimited(RouteFor(*bound, task), &outcome);
  CountOutcome(outcome.cls);
  VLOG(1) << task.kind() << " " << task.entity_id() << " -> "
          << (response.ok() ? absl::StrCat("HTTP ", response->status)
                            : std::string(response.status().message()))
          << " -> " << OutcomeClassName(outcome.cls);
  Deliver(task, outcome);
}

void Agent::HandBackIfThisAddressIsLimited(const Route& route, TaskOutcome* outcome,
                                           std::optional<TimePoint> not_before) {
  if (outcome->cls != OutcomeClass::kRateLimited || route.upstream != "esi") return;
  // ESI's 420 is the address's error limit, and a 429 on a public call the
  // address's bucket of the group: "not from here", not "not this task".
  // The throttler now keeps this address from calling; another agent may
  // run the task at once, and it costs the task no attempt. But not before
  // the Expires of pages already read: the other agent starts at page 1.
  if (outcome->fail.http_status() != 420 && !route.caller.empty()) return;
  outcome->fail.set_release(true);
  outcome->fail.clear_retry_after();
  if (not_before.has_value() && *not_before > clock_->Now()) {
    *outcome->fail.mutable_retry_after() = ToProtoDuration(std::min<Duration>(
        std::chrono::duration_cast<Duration>(*not_before - clock_->Now()), kMaxRetryAfter));
  }
}

void Agent::Defer(const sluice::v1::Task& task, const absl::Status& why,
                  const GateRefusal& refusal) {
  if (why.code() == absl::StatusCode::kCancelled) {
    // The agent is draining: hand it back for anyone to take now.
    Release(task,
            absl::StrCat("agent draining; task released before its call (", why.message(), ")"));
    return;
  }
  ++counters_.tasks_deferred;
  const std::string budget =
      refusal.limiting_budget.empty() ? "of " + task.kind() : refusal.limiting_budget;
  if (refusal.BilledToThisAddress()) {
    // It is this address that has no room: an agent elsewhere may have it
    // now. Hand the task back for anyone, and lease no more of its kind
    // here until this address has room.
    {
      std::lock_guard<std::mutex> lock(blocks_mu_);
      TimePoint& until = kind_blocked_until_[task.kind()];
      until = std::max(until, refusal.retry_at);
    }
    VLOG(1) << task.kind() << " " << task.entity_id() << " handed back: " << budget
            << " has no room from here";
    Release(task, absl::StrCat("budget ", budget, " has no room from this address; released"));
    return;
  }
  // The caller's own budget: no agent can run it sooner. Not before the
  // budget has room again; the queue hands the next most urgent task whose
  // budgets have room to this worker meanwhile.
  const Duration retry = std::max<Duration>(Duration::zero(), refusal.retry_at - clock_->Now());
  VLOG(1) << task.kind() << " " << task.entity_id() << " deferred "
          << std::chrono::duration_cast<std::chrono::milliseconds>(retry).count()
          << " ms: " << budget;
  Release(task, absl::StrCat("budget ", budget, " has no room; deferred"), retry);
}

absl::StatusOr<HttpResponse> Agent::GatedGet(const BoundHandler& bound,
                                             const sluice::v1::Task& task,
                                             const UpstreamRequest& request,
                                             TimePoint token_deadline, FetchFailure* failure,
                                             GateRefusal* refusal) {
  const Route route = RouteFor(bound, task);
  const auto wait_start = std::chrono::steady_clock::now();
  auto permit = gate_->Acquire(route, token_deadline, refusal);
  if (options_.observer != nullptr) {
    options_.observer->TokenWait(std::chrono::steady_clock::now() - wait_start, permit.ok());
  }
  if (!permit.ok()) {
    *failure = FetchFailure::kNoToken;
    if (permit.status().code() == absl::StatusCode::kCancelled) return permit.status();
    return absl::UnavailableError(absl::StrCat("no rate token: ", permit.status().message()));
  }

  ++counters_.upstream_requests;
  const auto sent_at = std::chrono::steady_clock::now();
  absl::StatusOr<HttpResponse> response = upstream_->Get(request.url, request.headers);
  const auto received_at = std::chrono::steady_clock::now();

  UpstreamObservation observation;
  observation.route = route;
  observation.status = response.ok() ? response->status : 0;
  if (response.ok()) observation.headers = response->headers;
  observation.observed_at = clock_->Now();
  observation.lease_id = permit->lease_id;
  observation.incarnation = permit->incarnation;
  observation.sent_at = sent_at;
  observation.received_at = received_at;
  if (options_.observer != nullptr) options_.observer->UpstreamCall(observation);
  gate_->Report(std::move(observation));
  if (!response.ok()) *failure = FetchFailure::kTransport;
  return response;
}

void Agent::CountOutcome(OutcomeClass cls) {
  switch (cls) {
    case OutcomeClass::kCompleted:
    case OutcomeClass::kNotModified:
    case OutcomeClass::kReleased:
      break;
    case OutcomeClass::kBadBody:
      ++counters_.bad_bodies;
      break;
    case OutcomeClass::kInconsistent:
      ++counters_.inconsistent_reads;
      break;
    case OutcomeClass::kRateLimited:
      ++counters_.rate_limited;
      ++counters_.upstream_errors;
      break;
    default:
      ++counters_.upstream_errors;
      break;
  }
}

void Agent::Deliver(const sluice::v1::Task& task, const TaskOutcome& outcome) {
  if (outcome.is_complete()) {
    // The coalescer delivers it; this worker takes its next task now. The
    // lease stays tracked (and extended) until the answer is back.
    const bool not_modified = outcome.cls == OutcomeClass::kNotModified;
    completions_.Submit(outcome.complete,
                        [this, task, not_modified](CompletionCoalescer::Result result) {
                          if (result.ok()) {
                            ++counters_.tasks_done;
                            if (not_modified) ++counters_.not_modified;
                          }
                          Answered(task, result.status());
                        });
    return;
  }
  auto result = tasks_->FailTask(outcome.fail);
  if (result.ok()) {
    if (outcome.cls == OutcomeClass::kReleased) {
      ++counters_.tasks_released;
    } else {
      ++counters_.tasks_failed;
      if (outcome.fail.permanent() || result->dead()) ++counters_.tasks_failed_permanent;
      LOG_EVERY_N(INFO, 50) << task.kind() << " " << task.entity_id() << " failed ("
                            << OutcomeClassName(outcome.cls) << "): " << outcome.fail.error()
                            << " [" << google::COUNTER << " failures]";
    }
  }
  Answered(task, result.status());
}

void Agent::Answered(const sluice::v1::Task& task, const absl::Status& status) {
  // A completion's answer arrives on the coalescer's thread: its lines carry
  // the task's ids as the worker's did.
  logging::ScopedLogIds ids(TaskLogIds(task));
  if (!status.ok()) {
    const std::string label = absl::StrCat(task.kind(), " ", task.entity_id());
    if (LeaseWasLost(status)) {
      ++counters_.leases_lost;
      LOG(WARNING) << label << ": coordinator rejected the result, lease lost (" << status
                   << "); dropping it";
    } else {
      ++counters_.report_errors;
      LOG(ERROR) << label << ": result not delivered (" << status
                 << "); the lease will lapse and the task be redone";
    }
  }
  leases_.Remove(task);
}

void Agent::Release(const sluice::v1::Task& task, const std::string& reason, Duration retry_after) {
  Deliver(task, ReleaseOutcome(task, options_.agent_id, reason, retry_after));
}

void Agent::ExtendLoop() {
  logging::ScopedLogIds ids(AgentLogIds());
  auto last_log = std::chrono::steady_clock::now();
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, options_.extend_interval, [this] { return extender_stop_; })) return;
    }
    for (const auto& lease : leases_.DueForExtension(clock_->Now(), options_.lease_duration)) {
      sluice::v1::ExtendLeaseRequest request;
      request.set_task_id(lease.task_id);
      request.set_fencing_token(lease.fencing_token);
      *request.mutable_lease_duration() = ToProtoDuration(options_.lease_duration);
      request.set_agent_id(options_.agent_id);
      auto response = tasks_->ExtendLease(request);
      if (response.ok()) {
        leases_.Extended(lease, FromProto(response->locked_until()));
      } else if (LeaseWasLost(response.status())) {
        leases_.MarkLost(lease);
        LOG(WARNING) << "task " << lease.task_id << ": lease lost (" << response.status() << ")";
      } else {
        LOG_EVERY_N(WARNING, 10) << "ExtendLease(task " << lease.task_id
                                 << ") failed: " << response.status();
      }
    }
    if (options_.log_interval > Duration::zero() &&
        std::chrono::steady_clock::now() - last_log >= options_.log_interval) {
      last_log = std::chrono::steady_clock::now();
      LogProgress();
    }
  }
}

void Agent::LogProgress() {
  AgentStats s = stats();
  LOG(INFO) << "agent " << options_.agent_id << ": leased " << s.tasks_leased << ", done "
            << s.tasks_done << " (" << s.not_modified << " not modified; " << s.complete_calls
            << " completion calls), failed " << s.tasks_failed << " (" << s.tasks_failed_permanent
            << " permanent), released " << s.tasks_released << ", upstream requests "
            << s.upstream_requests << " (" << s.upstream_errors << " errors, " << s.rate_limited
            << " rate-limited), queued " << queue_.size() << ", held " << leases_.size();
}

void Agent::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
  }
  cv_.notify_all();
  if (!started_) {
    gate_->Shutdown();
    return;
  }
  LOG(INFO) << "agent " << options_.agent_id << " draining";
  const auto drain_deadline = std::chrono::steady_clock::now() + options_.drain_timeout;

  // Results still retrying against an unreachable coordinator are abandoned
  // once the drain time is up, so SIGTERM always ends in bounded time.
  std::mutex watchdog_mu;
  std::condition_variable watchdog_cv;
  bool drained = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(watchdog_mu);
    if (!watchdog_cv.wait_until(lock, drain_deadline, [&] { return drained; })) {
      LOG(WARNING) << "drain timeout: abandoning results still being retried";
      tasks_->AbortRetries();
    }
  });

  // Workers take nothing new from here on. The leaser is joined before any
  // task is handed back: otherwise its in-flight long poll could lease the
  // very tasks being released and the drain would chase its own tail.
  std::vector<sluice::v1::Task> unstarted = queue_.Close();
  if (leaser_.joinable()) leaser_.join();
  gate_->CancelWaiters();
  for (const auto& task : unstarted) Release(task, "agent draining; task released before start");
  for (auto& w : workers_) w.join();
  workers_.clear();
  // Results the workers handed over are delivered before the agent ends
  // (or abandoned by the watchdog once the drain time is up).
  completions_.Flush();
  {
    std::lock_guard<std::mutex> lock(mu_);
    extender_stop_ = true;
  }
  cv_.notify_all();
  if (extender_.joinable()) extender_.join();
  {
    std::lock_guard<std::mutex> lock(watchdog_mu);
    drained = true;
  }
  watchdog_cv.notify_all();
  watchdog.join();

  gate_->Shutdown();
  LogProgress();
  LOG(INFO) << "agent " << options_.agent_id << " stopped";
}

AgentStats Agent::stats() const {
  AgentStats s;
  s.tasks_leased = counters_.tasks_leased;
  s.tasks_done = counters_.tasks_done;
  s.complete_calls = completions_.calls();
  s.not_modified = counters_.not_modified;
  s.tasks_failed = counters_.tasks_failed;
  s.tasks_failed_permanent = counters_.tasks_failed_permanent;
  s.tasks_released = counters_.tasks_released;
  s.tasks_deferred = counters_.tasks_deferred;
  s.leases_lost = counters_.leases_lost;
  s.upstream_requests = counters_.upstream_requests;
  s.upstream_errors = counters_.upstream_errors;
  s.bad_bodies = counters_.bad_bodies;
  s.inconsistent_reads = counters_.inconsistent_reads;
  s.rate_limited = counters_.rate_limited;
  s.report_errors = counters_.report_errors;
  s.lease_errors = counters_.lease_errors;
  s.leases_held = static_cast<int64_t>(leases_.size());
  return s;
}

}  // namespace sluice::agent
