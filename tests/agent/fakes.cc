#include "tests/agent/fakes.h"

#include <thread>

#include "common/time_util.h"
#include "server/queue/retry_policy.h"

namespace sluice::agent::testing {

using sluice::v1::CompleteTaskRequest;
using sluice::v1::CompleteTaskResponse;
using sluice::v1::ExtendLeaseRequest;
using sluice::v1::ExtendLeaseResponse;
using sluice::v1::FailTaskRequest;
using sluice::v1::FailTaskResponse;
using sluice::v1::LeaseTasksRequest;
using sluice::v1::LeaseTasksResponse;

// ---------------------------------------------------------------- queue

void InMemoryQueue::Enqueue(const std::string& kind, const std::vector<int64_t>& ids,
                            const std::string& etag) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t id : ids) {
    auto key = std::make_pair(kind, id);
    ever_queued_.insert(key);
    if (task_of_key_.count(key) > 0) continue;
    Entry e;
    e.task_id = next_task_id_++;
    e.kind = kind;
    e.entity_id = id;
    e.etag = etag;
    task_of_key_[key] = e.task_id;
    tasks_[e.task_id] = e;
  }
  cv_.notify_all();
}

absl::StatusOr<LeaseTasksResponse> InMemoryQueue::Lease(const LeaseTasksRequest& r) {
  if (r.kinds_size() == 0) return absl::InvalidArgumentError("kinds is empty");
  if (r.max_tasks() < 1 || r.max_tasks() > 1000) {
    return absl::InvalidArgumentError("max_tasks out of range");
  }
  std::set<std::string> kinds(r.kinds().begin(), r.kinds().end());
  const auto give_up = std::chrono::steady_clock::now() + FromProtoDuration(r.wait());
  std::unique_lock<std::mutex> lock(mu_);
  agents_.insert(r.agent_id());
  while (true) {
    TimePoint now = std::chrono::system_clock::now();
    LeaseTasksResponse out;
    for (auto& [id, e] : tasks_) {
      if (out.tasks_size() >= r.max_tasks()) break;
      if (kinds.count(e.kind) == 0 || e.ready_at > now || e.locked_until > now) continue;
      e.fencing_token = next_fencing_++;
      e.locked_until = now + FromProtoDuration(r.lease_duration());
      auto* t = out.add_tasks();
      t->set_task_id(e.task_id);
      t->set_kind(e.kind);
      t->set_entity_id(e.entity_id);
      t->set_fencing_token(e.fencing_token);
      *t->mutable_locked_until() = ToProto(e.locked_until);
      t->set_etag(e.etag);
      t->set_attempts(e.attempts);
    }
    if (out.tasks_size() > 0 || std::chrono::steady_clock::now() >= give_up) return out;
    cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
}

InMemoryQueue::Entry* InMemoryQueue::FindLocked(int64_t task_id, int64_t fencing,
                                                absl::Status* error) {
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) {
    *error = absl::FailedPreconditionError("task is gone");
    return nullptr;
  }
  if (it->second.fencing_token != fencing) {
    *error = absl::FailedPreconditionError("stale fencing token");
    return nullptr;
  }
  return &it->second;
}

absl::StatusOr<ExtendLeaseResponse> InMemoryQueue::Extend(const ExtendLeaseRequest& r) {
  std::lock_guard<std::mutex> lock(mu_);
  extensions_.push_back(r);
  absl::Status error;
  Entry* e = FindLocked(r.task_id(), r.fencing_token(), &error);
  if (e == nullptr) return error;
  e->locked_until = std::chrono::system_clock::now() + FromProtoDuration(r.lease_duration());
  ExtendLeaseResponse out;
  *out.mutable_locked_until() = ToProto(e->locked_until);
  return out;
}

absl::StatusOr<CompleteTaskResponse> InMemoryQueue::Complete(const CompleteTaskRequest& r) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::Status error;
  Entry* e = FindLocked(r.task_id(), r.fencing_token(), &error);
  if (e == nullptr) return error;
  ++completed_count_;
  if (keep_completions) {
    completions_.push_back(r);
    completed_.insert({e->kind, e->entity_id});
  }
  task_of_key_.erase({e->kind, e->entity_id});
  tasks_.erase(r.task_id());
  CompleteTaskResponse out;
  out.set_records_written(r.records_size());
  int queued = 0;
  for (const auto& d : r.discovered()) {
    for (int64_t id : d.ids()) {
      auto key = std::make_pair(d.kind(), id);
      if (task_of_key_.count(key) > 0) continue;
      if (!d.force() && ever_queued_.count(key) > 0) continue;
      ever_queued_.insert(key);
      Entry n;
      n.task_id = next_task_id_++;
      n.kind = d.kind();
      n.entity_id = id;
      task_of_key_[key] = n.task_id;
      tasks_[n.task_id] = n;
      ++queued;
    }
  }
  out.set_tasks_queued(queued);
  cv_.notify_all();
  return out;
}

absl::StatusOr<FailTaskResponse> InMemoryQueue::Fail(const FailTaskRequest& r) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::Status error;
  Entry* e = FindLocked(r.task_id(), r.fencing_token(), &error);
  if (e == nullptr) return error;
  failures_.push_back(r);
  FailTaskResponse out;
  // A release (the upstream was never called) costs no attempt, as in the
  // coordinator's queue.
  if (!r.release()) ++e->attempts;
  out.set_attempts(e->attempts);
  // The coordinator queue's own rule decides what the failure leads to.
  sluice::Failure failure;
  failure.permanent = r.permanent();
  failure.http_status = r.http_status();
  sluice::RetryPolicyOptions policy;
  policy.max_attempts = max_attempts;
  if (sluice::RetryPolicy(policy).Decide(e->attempts, failure).dead) {
    dead_.insert({e->kind, e->entity_id});
    task_of_key_.erase({e->kind, e->entity_id});
    tasks_.erase(r.task_id());
    out.set_dead(true);
  } else {
    TimePoint now = std::chrono::system_clock::now();
    e->ready_at = now + std::min(FromProtoDuration(r.retry_after()), max_backoff);
    e->locked_until = TimePoint{};
    *out.mutable_retry_at() = ToProto(e->ready_at);
  }
  cv_.notify_all();
  return out;
}

void InMemoryQueue::BumpFencing(int64_t task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tasks_.find(task_id);
  if (it != tasks_.end()) it->second.fencing_token = next_fencing_++;
}

bool InMemoryQueue::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return tasks_.empty(); });
}

size_t InMemoryQueue::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return tasks_.size();
}

int64_t InMemoryQueue::completed_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return completed_count_;
}

std::vector<CompleteTaskRequest> InMemoryQueue::completions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return completions_;
}

std::vector<FailTaskRequest> InMemoryQueue::failures() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

std::vector<ExtendLeaseRequest> InMemoryQueue::extensions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return extensions_;
}

std::vector<sluice::v1::EntityRecord> InMemoryQueue::records(const std::string& kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<sluice::v1::EntityRecord> out;
  for (const auto& c : completions_) {
    for (const auto& r : c.records()) {
      if ((kind == "alliance" && r.has_alliance()) ||
          (kind == "corporation" && r.has_corporation()) ||
          (kind == "character" && r.has_character())) {
        out.push_back(r);
      }
    }
  }
  return out;
}

std::set<std::pair<std::string, int64_t>> InMemoryQueue::dead() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dead_;
}

std::set<std::pair<std::string, int64_t>> InMemoryQueue::completed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return completed_;
}

std::set<std::string> InMemoryQueue::agents_seen() const {
  std::lock_guard<std::mutex> lock(mu_);
  return agents_;
}

// ---------------------------------------------------------- task service

absl::StatusOr<LeaseTasksResponse> FakeTaskService::LeaseTasks(const LeaseTasksRequest& request) {
  ++lease_calls;
  if (request.new_process()) ++new_process_leases;
  return queue_->Lease(request);
}

absl::StatusOr<ExtendLeaseResponse> FakeTaskService::ExtendLease(
    const ExtendLeaseRequest& request) {
  return queue_->Extend(request);
}

void FakeTaskService::MaybeHang() {
  while (hang_results && !aborted) std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

absl::StatusOr<CompleteTaskResponse> FakeTaskService::CompleteTask(
    const CompleteTaskRequest& request) {
  ++complete_task_calls;
  MaybeHang();
  if (hang_results) return absl::UnavailableError("coordinator unreachable");
  return queue_->Complete(request);
}

std::vector<absl::StatusOr<CompleteTaskResponse>> FakeTaskService::CompleteTasks(
    const sluice::v1::CompleteTasksRequest& request) {
  ++complete_tasks_calls;
  batched_completions += request.completions_size();
  MaybeHang();
  std::vector<absl::StatusOr<CompleteTaskResponse>> out;
  for (const auto& c : request.completions()) {
    if (hang_results) {
      out.push_back(absl::UnavailableError("coordinator unreachable"));
    } else {
      out.push_back(queue_->Complete(c));
    }
  }
  return out;
}

absl::StatusOr<FailTaskResponse> FakeTaskService::FailTask(const FailTaskRequest& request) {
  MaybeHang();
  if (hang_results) return absl::UnavailableError("coordinator unreachable");
  return queue_->Fail(request);
}

// ---------------------------------------------------------- agent service

namespace {
grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}
}  // namespace

grpc::Status FakeAgentService::CheckAuth(grpc::ServerContext* context) const {
  if (required_authorization.empty()) return grpc::Status::OK;
  auto it = context->client_metadata().find("authorization");
  if (it == context->client_metadata().end() ||
      std::string(it->second.data(), it->second.size()) != required_authorization) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "bad token");
  }
  return grpc::Status::OK;
}

grpc::Status FakeAgentService::LeaseTasks(grpc::ServerContext* context,
                                          const LeaseTasksRequest* request,
                                          LeaseTasksResponse* response) {
  if (auto s = CheckAuth(context); !s.ok()) return s;
  auto out = queue_->Lease(*request);
  if (!out.ok()) return ToGrpc(out.status());
  *response = *out;
  return grpc::Status::OK;
}

grpc::Status FakeAgentService::ExtendLease(grpc::ServerContext* context,
                                           const ExtendLeaseRequest* request,
                                           ExtendLeaseResponse* response) {
  if (auto s = CheckAuth(context); !s.ok()) return s;
  auto out = queue_->Extend(*request);
  if (!out.ok()) return ToGrpc(out.status());
  *response = *out;
  return grpc::Status::OK;
}

grpc::Status FakeAgentService::CompleteTask(grpc::ServerContext* context,
                                            const CompleteTaskRequest* request,
                                            CompleteTaskResponse* response) {
  if (auto s = CheckAuth(context); !s.ok()) return s;
  ++result_calls;
  if (unavailable_results.fetch_sub(1) > 0) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting");
  }
  unavailable_results = 0;
  auto out = queue_->Complete(*request);
  if (!out.ok()) return ToGrpc(out.status());
  *response = *out;
  return grpc::Status::OK;
}

grpc::Status FakeAgentService::CompleteTasks(grpc::ServerContext* context,
                                             const sluice::v1::CompleteTasksRequest* request,
                                             sluice::v1::CompleteTasksResponse* response) {
  if (auto s = CheckAuth(context); !s.ok()) return s;
  ++result_calls;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch_sizes_.push_back(request->completions_size());
  }
  if (unavailable_results.fetch_sub(1) > 0) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting");
  }
  unavailable_results = 0;
  for (const auto& c : request->completions()) {
    sluice::v1::CompletionResult* r = response->add_results();
    if (unavailable_completions.fetch_sub(1) > 0) {
      r->set_code(static_cast<int>(absl::StatusCode::kUnavailable));
      r->set_message("database unreachable");
      continue;
    }
    unavailable_completions = 0;
    auto out = queue_->Complete(c);
    r->set_code(static_cast<int>(out.status().code()));
    r->set_message(std::string(out.status().message()));
    if (out.ok()) {
      r->set_records_written(out->records_written());
      r->set_tasks_queued(out->tasks_queued());
    }
  }
  return grpc::Status::OK;
}

std::vector<int> FakeAgentService::batch_sizes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batch_sizes_;
}

grpc::Status FakeAgentService::FailTask(grpc::ServerContext* context,
                                        const FailTaskRequest* request,
                                        FailTaskResponse* response) {
  if (auto s = CheckAuth(context); !s.ok()) return s;
  ++result_calls;
  if (unavailable_results.fetch_sub(1) > 0) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting");
  }
  unavailable_results = 0;
  auto out = queue_->Fail(*request);
  if (!out.ok()) return ToGrpc(out.status());
  *response = *out;
  return grpc::Status::OK;
}

// --------------------------------------------------------------- throttler

grpc::Status FakeThrottler::LeaseTokens(grpc::ServerContext*,
                                        const sluice::v1::LeaseTokensRequest* request,
                                        sluice::v1::LeaseTokensResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  ++lease_calls_;
  lease_requests_.push_back(*request);
  response->set_incarnation(incarnation);
  TimePoint now = clock_->Now();
  if (refuse) {
    response->set_granted(0);
    *response->mutable_retry_at() =
        ToProto(now + std::chrono::milliseconds(refuse_retry_after_ms.load()));
    response->set_limiting_budget("esi/test");
    return grpc::Status::OK;
  }
  int n = grant < 0 ? request->count() : grant.load();
  const int64_t id = next_lease_id_++;
  response->set_lease_id(id);
  response->set_granted(n);
  *response->mutable_expires_at() = ToProto(now + clock_skew + lease_ttl);
  if (send_ttl) *response->mutable_ttl() = ToProtoDuration(lease_ttl);
  response->set_limiting_budget("esi/test");
  if (arming && request->arm_before_use()) {
    response->set_arm_before_use(true);
    arming_leases_.insert(id);
  }
  granted_total_ += n;
  events_.push_back("lease " + std::to_string(id) + " " + std::to_string(n));
  return grpc::Status::OK;
}

grpc::Status FakeThrottler::ArmTokens(grpc::ServerContext*,
                                      const sluice::v1::ArmTokensRequest* request,
                                      sluice::v1::ArmTokensResponse* response) {
  std::lock_guard<std::mutex> lock(mu_);
  ++arm_calls_;
  const std::string id = std::to_string(request->lease_id());
  if (arming_leases_.count(request->lease_id()) == 0) {
    events_.push_back("refuse-arm " + id);
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such arming lease");
  }
  if (refuse_arms > 0) {
    --refuse_arms;
    events_.push_back("refuse-arm " + id);
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "lease was revoked");
  }
  int64_t& armed = armed_[request->lease_id()];
  armed += request->count();
  response->set_armed(static_cast<int32_t>(armed));
  events_.push_back("arm " + id + " " + std::to_string(armed));
  return grpc::Status::OK;
}

void FakeThrottler::NoteUpstreamCall(int64_t lease_id) {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t& calls = upstream_calls_[lease_id];
  ++calls;
  if (arming_leases_.count(lease_id) != 0 && calls > armed_[lease_id]) ++unarmed_calls_;
  events_.push_back("call " + std::to_string(lease_id));
}

int FakeThrottler::arm_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return arm_calls_;
}

int64_t FakeThrottler::unarmed_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unarmed_calls_;
}

std::vector<std::string> FakeThrottler::events() const {
  std::lock_guard<std::mutex> lock(mu_);
  return events_;
}

grpc::Status FakeThrottler::ReportBatch(grpc::ServerContext*,
                                        const sluice::v1::ReportBatchRequest* request,
                                        sluice::v1::ReportBatchResponse*) {
  if (report_batch_code != 0) {
    return grpc::Status(static_cast<grpc::StatusCode>(report_batch_code.load()), "refused");
  }
  std::lock_guard<std::mutex> lock(mu_);
  observation_count_ += request->observations_size();
  if (keep_observations) {
    for (const auto& o : request->observations()) observations_.push_back(o);
  }
  for (const auto& r : request->returns()) returned_[r.lease_id()] += r.unspent();
  if (request->settled_before_incarnation() > 0) {
    sluice::v1::ReportBatchRequest settled = *request;
    settled.clear_observations();
    settled.clear_returns();
    settlements_.push_back(std::move(settled));
  }
  return grpc::Status::OK;
}

std::vector<sluice::v1::ReportBatchRequest> FakeThrottler::settlements() const {
  std::lock_guard<std::mutex> lock(mu_);
  return settlements_;
}

grpc::Status FakeThrottler::WatchRevocations(grpc::ServerContext* context,
                                             const sluice::v1::WatchRevocationsRequest*,
                                             grpc::ServerWriter<sluice::v1::Revocation>* writer) {
  std::unique_lock<std::mutex> lock(mu_);
  ++watchers_;
  const uint64_t generation = generation_;
  size_t next = revocations_.size();
  grpc::Status result = grpc::Status::OK;
  while (true) {
    cv_.wait_for(lock, std::chrono::milliseconds(10));
    if (context->IsCancelled() || stopped_) break;
    if (generation != generation_) {
      result = grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream broken by test");
      break;
    }
    while (next < revocations_.size()) {
      sluice::v1::Revocation r = revocations_[next++];
      lock.unlock();
      writer->Write(r);
      lock.lock();
    }
  }
  --watchers_;
  cv_.notify_all();
  return result;
}

void FakeThrottler::Revoke(const std::string& budget, const std::vector<int64_t>& lease_ids,
                           TimePoint until) {
  std::lock_guard<std::mutex> lock(mu_);
  sluice::v1::Revocation r;
  r.set_budget(budget);
  for (int64_t id : lease_ids) r.add_lease_ids(id);
  *r.mutable_until() = ToProto(until);
  r.set_reason("test");
  revocations_.push_back(r);
  cv_.notify_all();
}

void FakeThrottler::BreakStreams() {
  std::lock_guard<std::mutex> lock(mu_);
  ++generation_;
  cv_.notify_all();
}

void FakeThrottler::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  cv_.notify_all();
}

int64_t FakeThrottler::observation_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return observation_count_;
}

int FakeThrottler::lease_calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lease_calls_;
}

int FakeThrottler::watchers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watchers_;
}

std::vector<sluice::v1::LeaseTokensRequest> FakeThrottler::lease_requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lease_requests_;
}

std::vector<sluice::v1::Observation> FakeThrottler::observations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return observations_;
}

int64_t FakeThrottler::returned() const {
  std::lock_guard<std::mutex> lock(mu_);
  int64_t sum = 0;
  for (const auto& [id, n] : returned_) sum += n;
  return sum;
}

std::map<int64_t, int64_t> FakeThrottler::returned_by_lease() const {
  std::lock_guard<std::mutex> lock(mu_);
  return returned_;
}

int64_t FakeThrottler::granted_total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return granted_total_;
}

// ------------------------------------------------------------ grpc server

GrpcTestServer::GrpcTestServer(std::vector<grpc::Service*> services, int port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                           &port_);
  for (auto* s : services) builder.RegisterService(s);
  server_ = builder.BuildAndStart();
}

GrpcTestServer::~GrpcTestServer() { Shutdown(); }

std::shared_ptr<grpc::Channel> GrpcTestServer::channel() const {
  return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}

void GrpcTestServer::Shutdown() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  server_->Wait();
  server_.reset();
}

// --------------------------------------------------------------- rate gate

absl::StatusOr<Permit> FakeRateGate::Acquire(const Route& route, TimePoint deadline,
                                             GateRefusal* refusal) {
  std::unique_lock<std::mutex> lock(mu_);
  while (hold_ && !cancelled_ && std::chrono::system_clock::now() < deadline) {
    cv_.wait_for(lock, std::chrono::milliseconds(5));
  }
  if (cancelled_) return absl::CancelledError("gate cancelled");
  if (hold_) {
    if (refusal != nullptr) {
      refusal->retry_at = std::chrono::system_clock::now() + retry_in_;
      refusal->limiting_budget = "fake/held";
    }
    return absl::DeadlineExceededError("held");
  }
  ++acquired_;
  return Permit{route, next_lease_++};
}

void FakeRateGate::Release(const Permit&) { ++released_; }

void FakeRateGate::Report(UpstreamObservation observation) {
  std::lock_guard<std::mutex> lock(mu_);
  observations_.push_back(std::move(observation));
}

void FakeRateGate::CancelWaiters() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  cv_.notify_all();
}

void FakeRateGate::Shutdown() {
  CancelWaiters();
  shut_down_ = true;
}

void FakeRateGate::set_hold(bool hold, Duration retry_in) {
  std::lock_guard<std::mutex> lock(mu_);
  hold_ = hold;
  retry_in_ = retry_in;
  cv_.notify_all();
}

std::vector<UpstreamObservation> FakeRateGate::observations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return observations_;
}

// ---------------------------------------------------------------- upstream

absl::StatusOr<HttpResponse> FakeUpstream::Get(const std::string& url,
                                               const RequestHeaders& headers) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back({url, headers});
  }
  return responder_(url, headers);
}

std::vector<FakeUpstream::Request> FakeUpstream::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

HttpResponse JsonResponse(int status, const std::string& body,
                          std::vector<std::pair<std::string, std::string>> headers) {
  HttpResponse r;
  r.status = status;
  r.body = body;
  r.headers.Add("Content-Type", "application/json; charset=UTF-8");
  for (auto& [k, v] : headers) r.headers.Add(k, v);
  return r;
}

bool WaitFor(const std::function<bool()>& predicate, std::chrono::milliseconds timeout) {
  auto give_up = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < give_up) {
    if (predicate()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return predicate();
}

}  // namespace sluice::agent::testing
