// Test doubles for the agent: an in-memory task queue (usable directly as a
// TaskService or behind a real gRPC AgentService), a gRPC ThrottlerService,
// an unlimited RateGate, a scripted UpstreamClient, and an in-process gRPC
// server to host fake services on 127.0.0.1.
#ifndef SLUICE_TESTS_AGENT_FAKES_H_
#define SLUICE_TESTS_AGENT_FAKES_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "agent/coordinator/task_service.h"
#include "agent/http/upstream_client.h"
#include "agent/throttle/rate_gate.h"
#include "common/clock.h"
#include "sluice/v1/agent.grpc.pb.h"
#include "sluice/v1/throttle.grpc.pb.h"

namespace sluice::agent::testing {

// A miniature coordinator queue: leases with fencing tokens, completion
// with discovery (non-forced ids are queued once ever, forced ids whenever
// not already queued), transient failures with attempts, dead tasks.
// Thread-safe.
class InMemoryQueue {
 public:
  struct Entry {
    int64_t task_id = 0;
    std::string kind;
    int64_t entity_id = 0;
    int64_t fencing_token = 0;
    TimePoint locked_until{};
    TimePoint ready_at{};
    std::string etag;
    int attempts = 0;
  };

  int max_attempts = 5;  // the rest of the retry rule is the queue's RetryPolicy
  // False: completions are counted, not kept (long runs stay small).
  bool keep_completions = true;
  // Caps FailTask retry_after so tests do not wait on upstream backoffs.
  Duration max_backoff = std::chrono::milliseconds(50);

  void Enqueue(const std::string& kind, const std::vector<int64_t>& ids,
               const std::string& etag = "");

  absl::StatusOr<sluice::v1::LeaseTasksResponse> Lease(const sluice::v1::LeaseTasksRequest& r);
  absl::StatusOr<sluice::v1::ExtendLeaseResponse> Extend(const sluice::v1::ExtendLeaseRequest& r);
  absl::StatusOr<sluice::v1::CompleteTaskResponse> Complete(
      const sluice::v1::CompleteTaskRequest& r);
  absl::StatusOr<sluice::v1::FailTaskResponse> Fail(const sluice::v1::FailTaskRequest& r);

  // Makes the task's current lease stale, as if it expired and was re-leased.
  void BumpFencing(int64_t task_id);
  // Blocks until nothing is queued or leased, or the timeout passes.
  bool WaitIdle(std::chrono::milliseconds timeout);

  size_t pending() const;
  int64_t completed_count() const;
  std::vector<sluice::v1::CompleteTaskRequest> completions() const;
  std::vector<sluice::v1::FailTaskRequest> failures() const;
  std::vector<sluice::v1::ExtendLeaseRequest> extensions() const;
  std::vector<sluice::v1::EntityRecord> records(const std::string& kind) const;
  std::set<std::pair<std::string, int64_t>> dead() const;
  // (kind, entity_id) of every completed task.
  std::set<std::pair<std::string, int64_t>> completed() const;
  std::set<std::string> agents_seen() const;

 private:
  Entry* FindLocked(int64_t task_id, int64_t fencing, absl::Status* error);

  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t next_task_id_ = 1;
  int64_t next_fencing_ = 100;
  std::map<int64_t, Entry> tasks_;
  std::map<std::pair<std::string, int64_t>, int64_t> task_of_key_;
  std::set<std::pair<std::string, int64_t>> ever_queued_;
  std::set<std::pair<std::string, int64_t>> dead_;
  std::set<std::pair<std::string, int64_t>> completed_;
  std::set<std::string> agents_;
  std::vector<sluice::v1::CompleteTaskRequest> completions_;
  int64_t completed_count_ = 0;
  std::vector<sluice::v1::FailTaskRequest> failures_;
  std::vector<sluice::v1::ExtendLeaseRequest> extensions_;
};

// TaskService straight onto an InMemoryQueue, with fault injection.
class FakeTaskService final : public TaskService {
 public:
  explicit FakeTaskService(InMemoryQueue* queue) : queue_(queue) {}

  absl::StatusOr<sluice::v1::LeaseTasksResponse> LeaseTasks(
      const sluice::v1::LeaseTasksRequest& request) override;
  absl::StatusOr<sluice::v1::ExtendLeaseResponse> ExtendLease(
      const sluice::v1::ExtendLeaseRequest& request) override;
  absl::StatusOr<sluice::v1::CompleteTaskResponse> CompleteTask(
      const sluice::v1::CompleteTaskRequest& request) override;
  std::vector<absl::StatusOr<sluice::v1::CompleteTaskResponse>> CompleteTasks(
      const sluice::v1::CompleteTasksRequest& request) override;
  absl::StatusOr<sluice::v1::FailTaskResponse> FailTask(
      const sluice::v1::FailTaskRequest& request) override;
  void AbortRetries() override { aborted = true; }

  // Calls of each, and the completions the CompleteTasks calls carried.
  std::atomic<int> lease_calls{0};
  std::atomic<int> new_process_leases{0};  // LeaseTasks calls with new_process set
  std::atomic<int> complete_task_calls{0};
  std::atomic<int> complete_tasks_calls{0};
  std::atomic<int> batched_completions{0};
  std::atomic<bool> aborted{false};
  // While true, results block (a coordinator that does not answer) until
  // AbortRetries().
  std::atomic<bool> hang_results{false};

 private:
  void MaybeHang();
  InMemoryQueue* const queue_;
};

// AgentService over gRPC onto an InMemoryQueue.
class FakeAgentService final : public sluice::v1::AgentService::Service {
 public:
  explicit FakeAgentService(InMemoryQueue* queue) : queue_(queue) {}
  grpc::Status LeaseTasks(grpc::ServerContext*, const sluice::v1::LeaseTasksRequest*,
                          sluice::v1::LeaseTasksResponse*) override;
  grpc::Status ExtendLease(grpc::ServerContext*, const sluice::v1::ExtendLeaseRequest*,
                           sluice::v1::ExtendLeaseResponse*) override;
  grpc::Status CompleteTask(grpc::ServerContext*, const sluice::v1::CompleteTaskRequest*,
                            sluice::v1::CompleteTaskResponse*) override;
  grpc::Status CompleteTasks(grpc::ServerContext*, const sluice::v1::CompleteTasksRequest*,
                             sluice::v1::CompleteTasksResponse*) override;
  grpc::Status FailTask(grpc::ServerContext*, const sluice::v1::FailTaskRequest*,
                        sluice::v1::FailTaskResponse*) override;

  // The next N result calls answer UNAVAILABLE without touching the queue.
  std::atomic<int> unavailable_results{0};
  // The next N completions inside CompleteTasks calls answer UNAVAILABLE on
  // their own, in an OK call (a coordinator whose database is down).
  std::atomic<int> unavailable_completions{0};
  std::atomic<int> result_calls{0};
  // Completions each CompleteTasks call carried, in call order.
  std::vector<int> batch_sizes() const;
  // Required "authorization" metadata value; empty = none.
  std::string required_authorization;

 private:
  grpc::Status CheckAuth(grpc::ServerContext* context) const;
  InMemoryQueue* const queue_;
  mutable std::mutex mu_;
  std::vector<int> batch_sizes_;  // guarded by mu_
};

// ThrottlerService fake: grants what is asked (or is told to refuse),
// records batches, and pushes revocations down WatchRevocations streams.
// With `arming` set it grants arming leases when asked and keeps, in one
// ordered log, the arms it acknowledged and the upstream calls tests note
// (NoteUpstreamCall), counting calls made on tokens not armed yet.
class FakeThrottler final : public sluice::v1::ThrottlerService::Service {
 public:
  explicit FakeThrottler(const Clock* clock) : clock_(clock) {}

  grpc::Status LeaseTokens(grpc::ServerContext*, const sluice::v1::LeaseTokensRequest*,
                           sluice::v1::LeaseTokensResponse*) override;
  grpc::Status ArmTokens(grpc::ServerContext*, const sluice::v1::ArmTokensRequest*,
                         sluice::v1::ArmTokensResponse*) override;
  grpc::Status ReportBatch(grpc::ServerContext*, const sluice::v1::ReportBatchRequest*,
                           sluice::v1::ReportBatchResponse*) override;
  grpc::Status WatchRevocations(grpc::ServerContext*, const sluice::v1::WatchRevocationsRequest*,
                                grpc::ServerWriter<sluice::v1::Revocation>*) override;

  // Sends a revocation to every open stream.
  void Revoke(const std::string& budget, const std::vector<int64_t>& lease_ids, TimePoint until);
  // Ends every open stream (as a coordinator restart would).
  void BreakStreams();
  void Stop();

  // Tokens granted per call: -1 = as many as asked.
  std::atomic<int> grant{-1};
  // While set, LeaseTokens grants 0 and names this retry_at.
  std::atomic<bool> refuse{false};
  std::atomic<int64_t> refuse_retry_after_ms{1000};
  Duration lease_ttl = std::chrono::seconds(10);
  // Added to expires_at only (not ttl): a coordinator whose clock is off.
  Duration clock_skew = Duration::zero();
  // Whether responses carry ttl (older coordinators send expires_at only).
  bool send_ttl = true;
  // False: observations are counted, not kept (long runs stay small).
  bool keep_observations = true;
  int64_t observation_count() const;
  // ReportBatch answers this code (OK = accept).
  std::atomic<int> report_batch_code{0};
  // Grant leases asked with arm_before_use as arming leases (a coordinator
  // that knows ArmTokens).
  std::atomic<bool> arming{false};
  // The next N ArmTokens calls answer FAILED_PRECONDITION (revoked/expired).
  std::atomic<int> refuse_arms{0};
  // LeaseTokensResponse.incarnation (0: not sent, as older coordinators).
  std::atomic<uint64_t> incarnation{0};
  // The batches that said a takeover is settled (settled_before_incarnation
  // > 0), without their observations and returns.
  std::vector<sluice::v1::ReportBatchRequest> settlements() const;

  // An upstream call was made on a token of `lease_id` (a test's upstream
  // calls this): logged, and counted as unarmed if the lease has no armed
  // token left for it.
  void NoteUpstreamCall(int64_t lease_id);
  int arm_calls() const;
  int64_t unarmed_calls() const;
  // "lease <id> <granted>", "arm <id> <armed total>", "refuse-arm <id>",
  // "call <id>", in the order they happened here.
  std::vector<std::string> events() const;

  int lease_calls() const;
  int watchers() const;
  std::vector<sluice::v1::LeaseTokensRequest> lease_requests() const;
  std::vector<sluice::v1::Observation> observations() const;
  // Sum of unspent over all TokenReturns, and per lease.
  int64_t returned() const;
  std::map<int64_t, int64_t> returned_by_lease() const;
  int64_t granted_total() const;

 private:
  const Clock* const clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  int64_t next_lease_id_ = 1;
  int lease_calls_ = 0;
  int64_t granted_total_ = 0;
  int watchers_ = 0;
  uint64_t generation_ = 0;  // bumped by BreakStreams
  bool stopped_ = false;
  std::vector<sluice::v1::Revocation> revocations_;  // streams start at the end
  std::vector<sluice::v1::LeaseTokensRequest> lease_requests_;
  std::vector<sluice::v1::Observation> observations_;
  int64_t observation_count_ = 0;
  std::map<int64_t, int64_t> returned_;
  std::map<int64_t, int64_t> armed_;           // per lease
  std::map<int64_t, int64_t> upstream_calls_;  // per lease
  std::set<int64_t> arming_leases_;
  int arm_calls_ = 0;
  int64_t unarmed_calls_ = 0;
  std::vector<std::string> events_;
  std::vector<sluice::v1::ReportBatchRequest> settlements_;
};

// Hosts services on 127.0.0.1:<free port>.
class GrpcTestServer {
 public:
  // port 0 = any free port.
  explicit GrpcTestServer(std::vector<grpc::Service*> services, int port = 0);
  ~GrpcTestServer();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::shared_ptr<grpc::Channel> channel() const;
  void Shutdown();

 private:
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// Unlimited tokens; records observations; can be told to hold Acquire.
class FakeRateGate final : public RateGate {
 public:
  absl::StatusOr<Permit> Acquire(const Route& route, TimePoint deadline,
                                 GateRefusal* refusal = nullptr) override;
  void Release(const Permit& permit) override;
  void Report(UpstreamObservation observation) override;
  void CancelWaiters() override;
  void Shutdown() override;

  // While true, Acquire blocks until cancelled or its deadline, then says
  // "ask again in `retry_in`".
  void set_hold(bool hold, Duration retry_in = Duration::zero());
  int acquired() const { return acquired_; }
  int released() const { return released_; }
  bool shut_down() const { return shut_down_; }
  std::vector<UpstreamObservation> observations() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool hold_ = false;
  Duration retry_in_{};
  bool cancelled_ = false;
  std::atomic<bool> shut_down_{false};
  std::atomic<int> acquired_{0};
  std::atomic<int> released_{0};
  int64_t next_lease_ = 1;
  std::vector<UpstreamObservation> observations_;
};

// Answers from a callback; records every request.
class FakeUpstream final : public UpstreamClient {
 public:
  using Responder =
      std::function<absl::StatusOr<HttpResponse>(const std::string&, const RequestHeaders&)>;
  explicit FakeUpstream(Responder responder) : responder_(std::move(responder)) {}

  absl::StatusOr<HttpResponse> Get(const std::string& url, const RequestHeaders& headers) override;

  struct Request {
    std::string url;
    RequestHeaders headers;
  };
  std::vector<Request> requests() const;

 private:
  Responder responder_;
  mutable std::mutex mu_;
  std::vector<Request> requests_;
};

HttpResponse JsonResponse(int status, const std::string& body,
                          std::vector<std::pair<std::string, std::string>> headers = {});

// Polls `predicate` until true or the timeout; true if it became true.
bool WaitFor(const std::function<bool()>& predicate,
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace sluice::agent::testing

#endif  // SLUICE_TESTS_AGENT_FAKES_H_
