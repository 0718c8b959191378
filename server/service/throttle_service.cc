#include "server/service/throttle_service.h"

#include <glog/logging.h>

#include <deque>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/credentials.h"
#include "common/grpc_status.h"
#include "common/time_util.h"
#include "common/wire_limits.h"
#include "server/throttle/limits.h"

namespace sluice {
namespace {

namespace v1 = sluice::v1;
using throttle::CallKey;

constexpr size_t kMaxIdLength = 128;
constexpr int kMaxBatch = 10000;
constexpr int64_t kMaxAgeSeconds = 3600;

grpc::Status Invalid(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

// `prefix` names where the RouteRef sits, e.g. "route" or "observations[3].route".
grpc::Status ToCallKey(const v1::RouteRef& ref, const std::string& prefix, CallKey* out) {
  std::optional<throttle::Upstream> upstream = throttle::ParseUpstream(ref.upstream());
  if (!upstream) return Invalid(absl::StrCat(prefix, ".upstream must be 'esi' or 'poe'"));
  out->upstream = *upstream;
  out->route = ref.route();
  out->egress = ref.egress();
  out->caller = ref.caller();
  absl::Status s = throttle::ValidateCallKey(*out);
  if (!s.ok()) {
    // ValidateCallKey names fields as "route.<field>"; re-root them.
    std::string message(s.message());
    if (message.rfind("route.", 0) == 0) message = absl::StrCat(prefix, message.substr(5));
    return Invalid(message);
  }
  return grpc::Status::OK;
}

grpc::Status CheckId(const std::string& value, const char* field, bool required) {
  if (required && value.empty()) return Invalid(absl::StrCat(field, " is required"));
  if (value.size() > kMaxIdLength) {
    return Invalid(absl::StrCat(field, " must be at most ", kMaxIdLength, " characters"));
  }
  return grpc::Status::OK;
}

// n == 0 means 1 (proto3 default); the throttler checks the rest.
int CallsOrOne(int32_t value) { return value == 0 ? 1 : value; }

grpc::Status CheckAge(const google::protobuf::Duration& d, const std::string& field,
                      std::optional<Duration>* out) {
  if (d.seconds() < 0 || d.nanos() < 0 || d.seconds() > kMaxAgeSeconds) {
    return Invalid(absl::StrCat(field, " must be between 0 and ", kMaxAgeSeconds, "s"));
  }
  *out = FromProtoDuration(d);
  return grpc::Status::OK;
}

grpc::Status ToObservation(const v1::Observation& in, const std::string& prefix,
                           throttle::Observation* out) {
  if (!in.has_route()) return Invalid(absl::StrCat(prefix, ".route is required"));
  grpc::Status s = ToCallKey(in.route(), absl::StrCat(prefix, ".route"), &out->key);
  if (!s.ok()) return s;
  if (absl::Status st = throttle::CheckStatus(absl::StrCat(prefix, ".status"), in.status());
      !st.ok()) {
    return ToGrpcStatus(st);
  }
  out->status = in.status();
  if (in.headers_size() > kMaxObservationHeaders) {
    return Invalid(
        absl::StrCat(prefix, ".headers must have at most ", kMaxObservationHeaders, " entries"));
  }
  out->headers.reserve(in.headers_size());
  for (int i = 0; i < in.headers_size(); ++i) {
    const v1::Header& h = in.headers(i);
    if (h.name().empty() || h.name().size() > kMaxHeaderNameBytes ||
        h.value().size() > kMaxHeaderValueBytes) {
      return Invalid(absl::StrCat(prefix, ".headers[", i, "] needs a name of 1..",
                                  kMaxHeaderNameBytes, " characters and a value of at most ",
                                  kMaxHeaderValueBytes));
    }
    out->headers.emplace_back(h.name(), h.value());
  }
  if (in.lease_id() < 0) return Invalid(absl::StrCat(prefix, ".lease_id must not be negative"));
  out->lease_id = in.lease_id();
  if (in.has_sent_age()) {
    s = CheckAge(in.sent_age(), absl::StrCat(prefix, ".sent_age"), &out->sent_age);
    if (!s.ok()) return s;
  }
  if (in.has_response_age()) {
    s = CheckAge(in.response_age(), absl::StrCat(prefix, ".response_age"), &out->response_age);
    if (!s.ok()) return s;
  }
  if (in.has_observed_at()) out->observed_at = FromProto(in.observed_at());
  return grpc::Status::OK;
}

void FillRevocation(const throttle::RevocationEvent& event, const std::string& agent_id,
                    v1::Revocation* out) {
  out->set_budget(event.budget);
  for (const auto& [lease_id, holder] : event.leases) {
    if (agent_id.empty() || holder == agent_id) out->add_lease_ids(lease_id);
  }
  *out->mutable_until() = ToProto(event.until);
  out->set_reason(event.reason);
}

void FillBudget(const throttle::BudgetInfo& info, v1::Budget* b) {
  b->set_name(info.name);
  b->set_family(info.family);
  b->set_scope(info.scope);
  b->set_learned(info.learned);
  v1::Window* w = b->add_windows();
  w->set_limit(info.window.limit);
  *w->mutable_period() = ToProtoDuration(info.window.period);
  w->set_remaining(info.window.remaining);
  *w->mutable_restriction() = ToProtoDuration(info.window.penalty);
  if (info.restricted_until.time_since_epoch().count() > 0) {
    *b->mutable_restricted_until() = ToProto(info.restricted_until);
    b->set_restriction_reason(info.restriction_reason);
  }
  *b->mutable_next_permitted() = ToProto(info.next_permitted);
  b->set_granted(info.counters.granted);
  b->set_denied(info.counters.denied);
  b->set_waits(info.counters.waits);
  b->set_restrictions(info.counters.restrictions);
  b->set_outstanding_tokens(info.outstanding_calls);
  for (const std::string& r : info.routes) b->add_routes(r);
  b->set_restricted_by(info.restricted_by);
  b->set_restriction_capped(info.restriction_capped);
  if (!info.restriction_cleared_by.empty()) {
    b->set_restriction_cleared_by(info.restriction_cleared_by);
    *b->mutable_restriction_cleared_at() = ToProto(info.restriction_cleared_at);
  }
  if (!info.tightened_by.empty()) {
    b->set_tightened_by(info.tightened_by);
    *b->mutable_tightened_until() = ToProto(info.tightened_until);
  }
}

// Whom a restriction reported or cleared is attributed to: the credential's
// name, or the peer address when the call carried none.
std::string CallerName(const grpc::CallbackServerContext* context, const Principal* principal) {
  return principal != nullptr ? principal->name : context->peer();
}

grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

void SetItemStatus(const grpc::Status& status, v1::ItemStatus* out) {
  out->set_code(static_cast<int32_t>(status.error_code()));
  out->set_message(status.error_message());
}

grpc::Status CheckBatchSize(int items) {
  if (items > ThrottleServiceImpl::kMaxBatchItems) {
    return Invalid(absl::StrCat("items must have at most ", ThrottleServiceImpl::kMaxBatchItems,
                                " entries (got ", items, ")"));
  }
  return grpc::Status::OK;
}

// A stream refused before it started: finishes at once.
template <typename Response>
class RefusedWriter final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit RefusedWriter(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

template <typename Request, typename Response>
class RefusedBidi final : public grpc::ServerBidiReactor<Request, Response> {
 public:
  explicit RefusedBidi(grpc::Status status) { this->Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

grpc::Status ShuttingDown() {
  return grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator is shutting down");
}

grpc::Status AnswerNextPermitted(throttle::Throttler* throttler,
                                 const v1::NextPermittedRequest& request,
                                 v1::NextPermittedResponse* response, const Asker& asker = {}) {
  if (!request.has_route()) return Invalid("route is required");
  CallKey key;
  if (grpc::Status s = ToCallKey(request.route(), "route", &key); !s.ok()) return s;
  if (absl::Status s = asker.Admit(request.route().upstream(), key.route); !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::StatusOr<throttle::PermitTime> t = throttler->NextPermitted(key, CallsOrOne(request.n()));
  if (!t.ok()) return ToGrpcStatus(t.status());
  asker.Count(UsageEvent::kNextPermitted);
  *response->mutable_at() = ToProto(t->at);
  *response->mutable_wait() = ToProtoDuration(t->wait);
  response->set_limiting_budget(t->limiting_budget);
  return grpc::Status::OK;
}

grpc::Status AnswerAcquire(throttle::Throttler* throttler, const v1::AcquireRequest& request,
                           v1::AcquireResponse* response, const Asker& asker = {}) {
  if (!request.has_route()) return Invalid("route is required");
  CallKey key;
  if (grpc::Status s = ToCallKey(request.route(), "route", &key); !s.ok()) return s;
  if (absl::Status s = asker.Admit(request.route().upstream(), key.route); !s.ok()) {
    return ToGrpcStatus(s);
  }
  if (grpc::Status s = CheckId(request.caller(), "caller", false); !s.ok()) return s;
  absl::StatusOr<throttle::AcquireResult> r = throttler->Acquire(
      key, CallsOrOne(request.n()), FromProtoDuration(request.max_wait()), request.caller());
  if (!r.ok()) return ToGrpcStatus(r.status());
  asker.Count(r->granted ? UsageEvent::kAcquireGranted : UsageEvent::kAcquireRefused);
  response->set_granted(r->granted);
  *response->mutable_at() = ToProto(r->at);
  *response->mutable_wait() = ToProtoDuration(r->wait);
  response->set_limiting_budget(r->limiting_budget);
  if (r->granted) {
    response->set_lease_id(r->lease_id);
    *response->mutable_expires_at() = ToProto(r->expires_at);
  }
  return grpc::Status::OK;
}

// Each item is decided on its own (one decision-lock acquisition each: the
// Throttler has no batch decision); a bad item fails only its answer.
grpc::Status AnswerNextPermittedBatch(throttle::Throttler* throttler,
                                      const v1::NextPermittedBatchRequest& request,
                                      v1::NextPermittedBatchResponse* response,
                                      const Asker& asker = {}) {
  if (grpc::Status s = CheckBatchSize(request.items_size()); !s.ok()) return s;
  response->mutable_answers()->Reserve(request.items_size());
  for (const v1::NextPermittedRequest& item : request.items()) {
    v1::NextPermittedAnswer* answer = response->add_answers();
    grpc::Status s = AnswerNextPermitted(throttler, item, answer->mutable_response(), asker);
    if (!s.ok()) {
      answer->clear_response();
      SetItemStatus(s, answer->mutable_status());
    }
  }
  return grpc::Status::OK;
}

grpc::Status AnswerAcquireBatch(throttle::Throttler* throttler,
                                const v1::AcquireBatchRequest& request,
                                v1::AcquireBatchResponse* response, const Asker& asker = {}) {
  if (grpc::Status s = CheckBatchSize(request.items_size()); !s.ok()) return s;
  response->mutable_answers()->Reserve(request.items_size());
  for (const v1::AcquireRequest& item : request.items()) {
    v1::AcquireAnswer* answer = response->add_answers();
    grpc::Status s = AnswerAcquire(throttler, item, answer->mutable_response(), asker);
    if (!s.ok()) {
      answer->clear_response();
      SetItemStatus(s, answer->mutable_status());
    }
  }
  return grpc::Status::OK;
}

v1::DecideResponse AnswerDecide(throttle::Throttler* throttler, const v1::DecideRequest& request,
                                const Asker& asker) {
  v1::DecideResponse out;
  out.set_id(request.id());
  grpc::Status s;
  switch (request.decision_case()) {
    case v1::DecideRequest::kNextPermitted:
      s = AnswerNextPermitted(throttler, request.next_permitted(), out.mutable_next_permitted(),
                              asker);
      break;
    case v1::DecideRequest::kAcquire:
      s = AnswerAcquire(throttler, request.acquire(), out.mutable_acquire(), asker);
      break;
    case v1::DecideRequest::kNextPermittedBatch:
      s = AnswerNextPermittedBatch(throttler, request.next_permitted_batch(),
                                   out.mutable_next_permitted_batch(), asker);
      break;
    case v1::DecideRequest::kAcquireBatch:
      s = AnswerAcquireBatch(throttler, request.acquire_batch(), out.mutable_acquire_batch(),
                             asker);
      break;
    case v1::DecideRequest::DECISION_NOT_SET:
      s = Invalid(
          "decision is required: next_permitted, acquire, next_permitted_batch or acquire_batch");
      break;
  }
  if (!s.ok()) {
    out.clear_answer();
    SetItemStatus(s, out.mutable_status());
  }
  return out;
}

// Not an agent's ReportBatch: what it shows restricts only within the cap.
grpc::Status AnswerReport(throttle::Throttler* throttler, const v1::ReportRequest& request,
                          const std::string& caller, const Asker& asker = {}) {
  if (!request.has_observation()) return Invalid("observation is required");
  throttle::Observation o;
  if (grpc::Status s = ToObservation(request.observation(), "observation", &o); !s.ok()) return s;
  if (absl::Status s = asker.Admit(request.observation().route().upstream(), o.key.route);
      !s.ok()) {
    return ToGrpcStatus(s);
  }
  absl::Status reported = throttler->Report(o, throttle::ReportOrigin{caller});
  if (reported.ok()) asker.Count(UsageEvent::kReport);
  return ToGrpcStatus(reported);
}

grpc::Status AnswerClearRestriction(throttle::Throttler* throttler,
                                    const v1::ClearRestrictionRequest& request,
                                    const std::string& caller,
                                    v1::ClearRestrictionResponse* response) {
  if (request.budget().empty()) return Invalid("budget is required");
  if (request.budget().size() > throttle::kMaxRouteLength + 64) {
    return Invalid("budget is too long");
  }
  absl::StatusOr<throttle::ClearedRestriction> cleared =
      throttler->ClearRestriction(request.budget(), caller);
  if (!cleared.ok()) return ToGrpcStatus(cleared.status());
  response->set_was_restricted(cleared->was_restricted);
  if (cleared->was_restricted) *response->mutable_was_until() = ToProto(cleared->was_until);
  response->set_was_restricted_by(cleared->was_by);
  response->set_was_backoff_level(cleared->was_level);
  response->set_was_tightened_by(cleared->was_tightened_by);
  return grpc::Status::OK;
}

grpc::Status AnswerListBudgets(throttle::Throttler* throttler,
                               const v1::ListBudgetsRequest& request,
                               v1::ListBudgetsResponse* response) {
  if (request.match().size() > throttle::kMaxRouteLength + 64) {
    return Invalid("match is too long");
  }
  if (request.top() < 0 || request.top() > 1000) return Invalid("top must be between 0 and 1000");
  throttle::BudgetQuery query;
  query.match = request.match();
  query.top = request.top() == 0 ? 5 : request.top();
  throttle::BudgetListing listing = throttler->ListBudgetFamilies(query);
  std::set<std::string> listed;
  for (const throttle::FamilyInfo& f : listing.families) {
    v1::BudgetFamily* out = response->add_families();
    out->set_name(f.name);
    out->set_kind(std::string(throttle::BudgetKindName(f.kind)));
    out->set_budgets(f.budgets);
    out->set_restricted(f.restricted);
    out->set_exhausted(f.exhausted);
    out->set_granted(f.counters.granted);
    out->set_denied(f.counters.denied);
    out->set_waits(f.counters.waits);
    out->set_restrictions(f.counters.restrictions);
    for (const std::string& r : f.routes) out->add_routes(r);
    for (const throttle::BudgetInfo& info : f.most_constrained) {
      FillBudget(info, out->add_most_constrained());
      if (query.match.empty() && listed.insert(info.name).second) {
        FillBudget(info, response->add_budgets());
      }
    }
  }
  for (const throttle::BudgetInfo& info : listing.budgets)
    FillBudget(info, response->add_budgets());
  response->set_total_budgets(listing.total_budgets);
  *response->mutable_now() = ToProto(throttler->clock()->Now());
  return grpc::Status::OK;
}

// Each credential's decisions, counted by the Asker of its calls.
void FillCallerUsage(const PrincipalUsage& usage, v1::ListBudgetsResponse* response) {
  for (const PrincipalCounts& c : usage.Snapshot()) {
    v1::CallerUsage* out = response->add_callers();
    out->set_name(c.name);
    out->set_next_permitted(c.next_permitted);
    out->set_acquire_granted(c.acquire_granted);
    out->set_acquire_refused(c.acquire_refused);
    out->set_reports(c.reports);
    out->set_denied(c.denied);
  }
}

grpc::Status AnswerLeaseTokens(throttle::Throttler* throttler,
                               const v1::LeaseTokensRequest& request,
                               v1::LeaseTokensResponse* response) {
  if (grpc::Status s = CheckId(request.agent_id(), "agent_id", true); !s.ok()) return s;
  if (grpc::Status s = CheckId(request.agent_instance(), "agent_instance", false); !s.ok()) {
    return s;
  }
  if (!request.has_route()) return Invalid("route is required");
  CallKey key;
  if (grpc::Status s = ToCallKey(request.route(), "route", &key); !s.ok()) return s;
  absl::StatusOr<throttle::LeaseGrant> g = throttler->LeaseTokens(
      request.agent_id(), key, request.count(), request.arm_before_use(), request.agent_instance());
  if (!g.ok()) return ToGrpcStatus(g.status());
  response->set_lease_id(g->lease_id);
  response->set_granted(static_cast<int32_t>(g->granted));
  response->set_limiting_budget(g->limiting_budget);
  response->set_limiting_scope(g->limiting_scope);
  response->set_incarnation(throttler->incarnation());
  if (g->granted > 0) {
    *response->mutable_expires_at() = ToProto(g->expires_at);
    *response->mutable_ttl() = ToProtoDuration(g->ttl);
    response->set_arm_before_use(g->arm_before_use);
  } else {
    *response->mutable_retry_at() = ToProto(g->retry_at);
  }
  return grpc::Status::OK;
}

grpc::Status AnswerArmTokens(throttle::Throttler* throttler, const v1::ArmTokensRequest& request,
                             v1::ArmTokensResponse* response) {
  if (grpc::Status s = CheckId(request.agent_id(), "agent_id", true); !s.ok()) return s;
  if (request.lease_id() <= 0) return Invalid("lease_id must be positive");
  absl::StatusOr<int64_t> armed =
      throttler->ArmTokens(request.agent_id(), request.lease_id(), request.count());
  if (!armed.ok()) return ToGrpcStatus(armed.status());
  response->set_armed(static_cast<int32_t>(*armed));
  return grpc::Status::OK;
}

grpc::Status AnswerReportBatch(throttle::Throttler* throttler,
                               const ThrottleServiceImpl::ReportListener& listener,
                               const v1::ReportBatchRequest& request,
                               v1::ReportBatchResponse* response) {
  if (grpc::Status s = CheckId(request.agent_id(), "agent_id", false); !s.ok()) return s;
  if (request.observations_size() > kMaxBatch || request.returns_size() > kMaxBatch) {
    return Invalid(
        absl::StrCat("observations and returns must have at most ", kMaxBatch, " entries each"));
  }
  // Validate everything before applying anything: a rejected batch changes
  // nothing, so the agent can fix and resend it whole.
  std::vector<throttle::Observation> observations(request.observations_size());
  for (int i = 0; i < request.observations_size(); ++i) {
    grpc::Status s = ToObservation(request.observations(i), absl::StrCat("observations[", i, "]"),
                                   &observations[i]);
    if (!s.ok()) return s;
  }
  std::vector<throttle::TokenReturn> returns(request.returns_size());
  for (int i = 0; i < request.returns_size(); ++i) {
    const v1::TokenReturn& r = request.returns(i);
    if (r.lease_id() <= 0)
      return Invalid(absl::StrCat("returns[", i, "].lease_id must be positive"));
    absl::Status unspent =
        throttle::CheckUnspent(absl::StrCat("returns[", i, "].unspent"), r.unspent());
    if (!unspent.ok()) return ToGrpcStatus(unspent);
    returns[i] = throttle::TokenReturn{r.lease_id(), r.unspent()};
  }
  if (grpc::Status s = CheckId(request.agent_instance(), "agent_instance", false); !s.ok()) {
    return s;
  }
  throttle::Throttler::SettledReport settled;
  settled.settled_before = request.settled_before_incarnation();
  settled.instance = request.agent_instance();
  settled.errors_since_start = request.settled_errors_since_start();
  if (request.settled_errors_size() > kMaxBatch) {
    return Invalid(absl::StrCat("settled_errors must have at most ", kMaxBatch, " entries"));
  }
  settled.errors.resize(request.settled_errors_size());
  for (int i = 0; i < request.settled_errors_size(); ++i) {
    grpc::Status s = ToObservation(request.settled_errors(i),
                                   absl::StrCat("settled_errors[", i, "]"), &settled.errors[i]);
    if (!s.ok()) return s;
  }
  if (request.has_settled_errors_cover()) {
    settled.errors_cover = FromProtoDuration(request.settled_errors_cover());
  }
  throttler->ReportBatch(request.agent_id(), observations, returns);
  // After the batch's observations: "answered and reported" holds for them.
  if (settled.settled_before > 0 && !request.agent_id().empty()) {
    throttler->ConfirmSettled(request.agent_id(), settled);
  }
  if (listener) listener(observations);
  return grpc::Status::OK;
}

}  // namespace

// What Shutdown() needs of an open stream.
class ThrottleServiceImpl::Stream {
 public:
  virtual ~Stream() = default;
  // Finishes the stream with `status` as soon as no write is in flight.
  virtual void End(grpc::Status status) = 0;
};

// One WatchRevocations stream. At most one write (or the initial metadata)
// is in flight; revocations arriving meanwhile wait in a bounded queue.
// Reactions are never run inline by gRPC's Start*/Finish, so those are called
// with mu_ held.
class ThrottleServiceImpl::RevocationStream final : public grpc::ServerWriteReactor<v1::Revocation>,
                                                    public Stream {
 public:
  RevocationStream(ThrottleServiceImpl* service, std::string agent_id)
      : service_(service), agent_id_(std::move(agent_id)) {}

  // Queues what is restricted now and sends the initial metadata.
  void Start(const std::vector<throttle::RevocationEvent>& active) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const throttle::RevocationEvent& event : active) {
      FillRevocation(event, agent_id_, &queue_.emplace_back());
    }
    StartSendInitialMetadata();
  }

  void Push(const throttle::RevocationEvent& event) {
    std::lock_guard<std::mutex> lock(mu_);
    if (end_) return;
    if (queue_.size() >= kMaxQueuedRevocations) {
      queue_.clear();
      EndLocked(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                             "revocations not read fast enough; reconnect"));
      return;
    }
    FillRevocation(event, agent_id_, &queue_.emplace_back());
    if (!busy_) WriteNextLocked();
  }

  void End(grpc::Status status) override {
    std::lock_guard<std::mutex> lock(mu_);
    EndLocked(std::move(status));
  }

  void OnSendInitialMetadataDone(bool ok) override { OnSent(ok); }
  void OnWriteDone(bool ok) override { OnSent(ok); }
  void OnCancel() override { End(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled")); }
  void OnDone() override {
    service_->RemoveStream(this, this);
    delete this;
  }

 private:
  void OnSent(bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    busy_ = false;
    if (!ok) EndLocked(grpc::Status(grpc::StatusCode::CANCELLED, "watcher went away"));
    if (end_) {
      FinishLocked();
    } else if (!queue_.empty()) {
      WriteNextLocked();
    }
  }
  void WriteNextLocked() {
    current_ = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    StartWrite(&current_);
  }
  void EndLocked(grpc::Status status) {
    if (!end_) end_ = std::move(status);
    if (!busy_) FinishLocked();
  }
  void FinishLocked() {
    if (finished_) return;
    finished_ = true;
    Finish(*end_);
  }

  ThrottleServiceImpl* const service_;
  const std::string agent_id_;
  std::mutex mu_;
  std::deque<v1::Revocation> queue_;  // guarded by mu_
  v1::Revocation current_;            // guarded by mu_: the write in flight
  bool busy_ = true;                  // guarded by mu_: initial metadata or a write in flight
  std::optional<grpc::Status> end_;   // guarded by mu_: finish with this once not busy
  bool finished_ = false;             // guarded by mu_
};

// One Decide stream. Requests are answered in the order they are read, on
// the thread that read them; answers are written one at a time from a
// backlog, and the next request is read only while the backlog has room, so
// a client that does not read its answers stops being read (flow control)
// instead of growing the coordinator's memory.
class ThrottleServiceImpl::DecideStream final
    : public grpc::ServerBidiReactor<v1::DecideRequest, v1::DecideResponse>,
      public Stream {
 public:
  DecideStream(ThrottleServiceImpl* service, Asker asker) : service_(service), asker_(asker) {}

  void Start() {
    std::lock_guard<std::mutex> lock(mu_);
    reading_ = true;
    StartRead(&request_);
  }

  void End(grpc::Status status) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!end_) end_ = std::move(status);
    MaybeFinishLocked();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // the client half-closed, or the call is gone
      std::lock_guard<std::mutex> lock(mu_);
      reading_ = false;
      read_done_ = true;
      MaybeFinishLocked();
      return;
    }
    // request_ is not touched elsewhere until the next StartRead.
    v1::DecideResponse answer = AnswerDecide(service_->throttler_, request_, asker_);
    std::lock_guard<std::mutex> lock(mu_);
    reading_ = false;
    if (end_) {
      MaybeFinishLocked();
      return;
    }
    backlog_.push_back(std::move(answer));
    if (!writing_) WriteNextLocked();
    ReadNextLocked();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    if (!ok && !end_) end_ = grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    if (!end_ && !backlog_.empty()) {
      WriteNextLocked();
      ReadNextLocked();
      return;
    }
    MaybeFinishLocked();
  }

  void OnCancel() override { End(grpc::Status(grpc::StatusCode::CANCELLED, "decide cancelled")); }
  void OnDone() override {
    service_->RemoveStream(this, nullptr);
    delete this;
  }

 private:
  void WriteNextLocked() {
    current_ = std::move(backlog_.front());
    backlog_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }
  void ReadNextLocked() {
    if (reading_ || read_done_ || end_ || backlog_.size() >= kMaxDecideBacklog) return;
    reading_ = true;
    StartRead(&request_);
  }
  // Finishes once nothing is being written and either an end was asked for
  // or the client half-closed and every answer went out.
  void MaybeFinishLocked() {
    if (finished_ || writing_) return;
    if (!end_) {
      if (!read_done_ || reading_ || !backlog_.empty()) return;
      end_ = grpc::Status::OK;
    }
    finished_ = true;
    Finish(*end_);
  }

  ThrottleServiceImpl* const service_;
  const Asker asker_;  // the stream's caller: its route limits and counters
  std::mutex mu_;
  v1::DecideRequest request_;               // the read in flight / being answered
  std::deque<v1::DecideResponse> backlog_;  // guarded by mu_
  v1::DecideResponse current_;              // guarded by mu_: the write in flight
  bool reading_ = false;                    // guarded by mu_
  bool read_done_ = false;                  // guarded by mu_: no more requests
  bool writing_ = false;                    // guarded by mu_
  std::optional<grpc::Status> end_;         // guarded by mu_
  bool finished_ = false;                   // guarded by mu_
};

ThrottleServiceImpl::ThrottleServiceImpl(throttle::Throttler* throttler,
                                         const Authorizer* authorizer)
    : throttler_(throttler), authorizer_(authorizer) {
  listener_id_ = throttler_->AddRevocationListener(
      [this](const throttle::RevocationEvent& event) { OnRevocation(event); });
}

ThrottleServiceImpl::~ThrottleServiceImpl() {
  throttler_->RemoveRevocationListener(listener_id_);
  Shutdown();
}

void ThrottleServiceImpl::Shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_ = true;
  for (Stream* stream : streams_) stream->End(ShuttingDown());
}

size_t ThrottleServiceImpl::watchers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watchers_.size();
}

bool ThrottleServiceImpl::AddStream(Stream* stream, RevocationStream* watcher) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_) return false;
  streams_.insert(stream);
  if (watcher != nullptr) watchers_.insert(watcher);
  return true;
}

void ThrottleServiceImpl::RemoveStream(Stream* stream, RevocationStream* watcher) {
  std::lock_guard<std::mutex> lock(mu_);
  streams_.erase(stream);
  if (watcher != nullptr) watchers_.erase(watcher);
}

void ThrottleServiceImpl::OnRevocation(const throttle::RevocationEvent& event) {
  std::lock_guard<std::mutex> lock(mu_);
  for (RevocationStream* w : watchers_) w->Push(event);
}

grpc::ServerUnaryReactor* ThrottleServiceImpl::NextPermitted(
    grpc::CallbackServerContext* context, const v1::NextPermittedRequest* request,
    v1::NextPermittedResponse* response) {
  const Principal* principal = nullptr;
  if (grpc::Status s = authorizer_->Authorize(context, &principal); !s.ok()) {
    return Done(context, s);
  }
  return Done(context, AnswerNextPermitted(throttler_, *request, response,
                                           Asker(principal, &authorizer_->usage())));
}

grpc::ServerUnaryReactor* ThrottleServiceImpl::Acquire(grpc::CallbackServerContext* context,
                                                       const v1::AcquireRequest* request,
                                                       v1::AcquireResponse* response) {
  const Principal* principal = nullptr;
  if (grpc::Status s = authorizer_->Authorize(context, &principal); !s.ok()) {
    return Done(context, s);
  }
  return Done(context, AnswerAcquire(throttler_, *request, response,
                                     Asker(principal, &authorizer_->usage())));
}

grpc::ServerUnaryReactor* ThrottleServiceImpl::NextPermittedBatch(
    grpc::CallbackServerContext* context, const v1::NextPermittedBatchRequest* request,
    v1::NextPermittedBatchResponse* response) {
  const Principal* principal = nullptr;
  if (grpc::Status s = authorizer_->Authorize(context, &principal); !s.ok()) {
    return Done(context, s);
  }
  return Done(context, AnswerNextPermittedBatch(throttler_, *request, response,
                                                Asker(principal, &authorizer_->usage())));
}

grpc::ServerUnaryReactor* ThrottleServiceImpl::AcquireBatch(grpc::CallbackServerContext* context,
                                                            const v1::AcquireBatchRequest* request,
                                                            v1::AcquireBatchResponse* response) {
  const Principal* principal = nullptr;
  if (grpc::Status s = authorizer_->Authorize(context, &principal); !s.ok()) {
    return Done(context, s);
  }
  return Done(context, AnswerAcquireBatch(throttler_, *request, response,
                                          Asker(principal, &authorizer_->usage())));
}

grpc::ServerBidiReactor<v1::DecideRequest, v1::DecideResponse>* ThrottleServiceImpl::Decide(
    grpc::CallbackServerContext* context) {
  using Refused = RefusedBidi<v1::DecideRequest, v1::DecideResponse>;
  const Principal* principal = nullptr;
  if (grpc::Status s = authorizer_->Authorize(context, &principal); !s.ok()) {
    return new Refused(s);
  }
  auto* stream = new DecideStream(this, Asker(principal, &authorizer_->usage()));
  if (!AddStream(stream, nullptr)) {
    delete stream;
    return new Refused(ShuttingDown());
  }
  stream->Start();
  return stream;
}

grpc::ServerUnaryReactor* ThrottleServiceImpl::Report(grpc::CallbackServerContext* context,
                                                      const v1::ReportRequest* request,
                                                      v1::ReportResponse* response) {
  const Principal* principal = nullptr;
  if (grpc::Status s = authorizer_->Authorize(context, &principal); !s.ok()) {
    return Done(context, s);
  }
  return Done(context, AnswerReport(throttler_, *request, CallerName(context, principal),
                                    Asker(principal, &authorizer_->usage())));
}

grpc::ServerUnaryReactor* ThrottleServiceImpl::ClearRestriction(
    grpc::CallbackServerContext* context, const v1::ClearRestrictionRequest* request,
    v1::ClearRestrictionResponse* response) {
  const Principal* principal = nullptr;
  if (grpc::Status s = authorizer_->Authorize(context, &principal); !s.ok()) {
    return Done(context, s);
  }
  return Done(context, AnswerClearRestriction(throttler_, *request, CallerName(context, principal),
                                              response));
}

grpc::ServerUnaryReactor* ThrottleServiceImpl::ListBudgets(grpc::CallbackServerContext* context,
                                                           const v1::ListBudgetsRequest* request,
                                                           v1::ListBudgetsResponse* response) {
  if (grpc::Status s = authorizer_->Check(context); !s.ok()) return Done(context, s);
  grpc::Status s = AnswerListBudgets(throttler_, *request, response);
  if (s.ok()) FillCallerUsage(authorizer_->usage(), response);
  return Done(context, s);
}

grpc::ServerUnaryReactor* ThrottleServiceImpl::LeaseTokens(grpc::CallbackServerContext* context,
                                                           const v1::LeaseTokensRequest* request,
                                                           v1::LeaseTokensResponse* response) {
  if (grpc::Status s = authorizer_->Check(context); !s.ok()) return Done(context, s);
  return Done(context, AnswerLeaseTokens(throttler_, *request, response));
}

grpc::ServerUnaryReactor* ThrottleServiceImpl::ArmTokens(grpc::CallbackServerContext* context,
                                                         const v1::ArmTokensRequest* request,
                                                         v1::ArmTokensResponse* response) {
  if (grpc::Status s = authorizer_->Check(context); !s.ok()) return Done(context, s);
  return Done(context, AnswerArmTokens(throttler_, *request, response));
}

grpc::ServerUnaryReactor* ThrottleServiceImpl::ReportBatch(grpc::CallbackServerContext* context,
                                                           const v1::ReportBatchRequest* request,
                                                           v1::ReportBatchResponse* response) {
  if (grpc::Status s = authorizer_->Check(context); !s.ok()) return Done(context, s);
  return Done(context, AnswerReportBatch(throttler_, report_listener_, *request, response));
}

grpc::ServerWriteReactor<v1::Revocation>* ThrottleServiceImpl::WatchRevocations(
    grpc::CallbackServerContext* context, const v1::WatchRevocationsRequest* request) {
  using Refused = RefusedWriter<v1::Revocation>;
  if (grpc::Status s = authorizer_->Check(context); !s.ok()) return new Refused(s);
  if (grpc::Status s = CheckId(request->agent_id(), "agent_id", false); !s.ok()) {
    return new Refused(s);
  }
  auto* stream = new RevocationStream(this, request->agent_id());
  if (!AddStream(stream, stream)) {
    delete stream;
    return new Refused(ShuttingDown());
  }
  // Registered before reading the active restrictions: a restriction raced
  // between the two is sent twice rather than never.
  stream->Start(throttler_->ActiveRestrictions());
  return stream;
}

}  // namespace sluice
