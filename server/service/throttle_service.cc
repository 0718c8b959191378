#include "server/service/throttle_service.h"

#include <glog/logging.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
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
constexpr std::chrono::milliseconds kCancelPoll{100};

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
}

}  // namespace

struct ThrottleServiceImpl::Watcher {
  std::string agent_id;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<v1::Revocation> queue;  // guarded by mu
  bool closed = false;               // guarded by mu: shutdown
  bool overflow = false;             // guarded by mu: reader too slow
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
  for (const auto& w : watchers_) {
    std::lock_guard<std::mutex> wl(w->mu);
    w->closed = true;
    w->cv.notify_all();
  }
}

size_t ThrottleServiceImpl::watchers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return watchers_.size();
}

void ThrottleServiceImpl::OnRevocation(const throttle::RevocationEvent& event) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& w : watchers_) {
    std::lock_guard<std::mutex> wl(w->mu);
    if (w->queue.size() >= kMaxQueuedRevocations) {
      w->overflow = true;
    } else {
      FillRevocation(event, w->agent_id, &w->queue.emplace_back());
    }
    w->cv.notify_all();
  }
}

grpc::Status ThrottleServiceImpl::NextPermitted(grpc::ServerContext* context,
                                                const v1::NextPermittedRequest* request,
                                                v1::NextPermittedResponse* response) {
  if (grpc::Status s = authorizer_->Check(context); !s.ok()) return s;
  if (!request->has_route()) return Invalid("route is required");
  CallKey key;
  if (grpc::Status s = ToCallKey(request->route(), "route", &key); !s.ok()) return s;
  absl::StatusOr<throttle::PermitTime> t = throttler_->NextPermitted(key, CallsOrOne(request->n()));
  if (!t.ok()) return ToGrpcStatus(t.status());
  *response->mutable_at() = ToProto(t->at);
  *response->mutable_wait() = ToProtoDuration(t->wait);
  response->set_limiting_budget(t->limiting_budget);
  return grpc::Status::OK;
}

grpc::Status ThrottleServiceImpl::Acquire(grpc::ServerContext* context,
                                          const v1::AcquireRequest* request,
                                          v1::AcquireResponse* response) {
  if (grpc::Status s = authorizer_->Check(context); !s.ok()) return s;
  if (!request->has_route()) return Invalid("route is required");
  CallKey key;
  if (grpc::Status s = ToCallKey(request->route(), "route", &key); !s.ok()) return s;
  if (grpc::Status s = CheckId(request->caller(), "caller", false); !s.ok()) return s;
  absl::StatusOr<throttle::AcquireResult> r = throttler_->Acquire(
      key, CallsOrOne(request->n()), FromProtoDuration(request->max_wait()), request->caller());
  if (!r.ok()) return ToGrpcStatus(r.status());
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

grpc::Status ThrottleServiceImpl::Report(grpc::ServerContext* context,
                                         const v1::ReportRequest* request,
                                         v1::ReportResponse* response) {
  if (grpc::Status s = authorizer_->Check(context); !s.ok()) return s;
  if (!request->has_observation()) return Invalid("observation is required");
  throttle::Observation o;
  if (grpc::Status s = ToObservation(request->observation(), "observation", &o); !s.ok()) return s;
  return ToGrpcStatus(throttler_->Report(o));
}

grpc::Status ThrottleServiceImpl::ListBudgets(grpc::ServerContext* context,
                                              const v1::ListBudgetsRequest* request,
                                              v1::ListBudgetsResponse* response) {
  if (grpc::Status s = authorizer_->Check(context); !s.ok()) return s;
  if (request->match().size() > throttle::kMaxRouteLength + 64) {
    return Invalid("match is too long");
  }
  if (request->top() < 0 || request->top() > 1000) return Invalid("top must be between 0 and 1000");
  throttle::BudgetQuery query;
  query.match = request->match();
  query.top = request->top() == 0 ? 5 : request->top();
  throttle::BudgetListing listing = throttler_->ListBudgetFamilies(query);
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
  *response->mutable_now() = ToProto(throttler_->clock()->Now());
  return grpc::Status::OK;
}

grpc::Status ThrottleServiceImpl::LeaseTokens(grpc::ServerContext* context,
                                              const v1::LeaseTokensRequest* request,
                                              v1::LeaseTokensResponse* response) {
  if (grpc::Status s = authorizer_->Check(context); !s.ok()) return s;
  if (grpc::Status s = CheckId(request->agent_id(), "agent_id", true); !s.ok()) return s;
  if (!request->has_route()) return Invalid("route is required");
  CallKey key;
  if (grpc::Status s = ToCallKey(request->route(), "route", &key); !s.ok()) return s;
  absl::StatusOr<throttle::LeaseGrant> g = throttler_->LeaseTokens(
      request->agent_id(), key, request->count(), request->arm_before_use());
  if (!g.ok()) return ToGrpcStatus(g.status());
  response->set_lease_id(g->lease_id);
  response->set_granted(static_cast<int32_t>(g->granted));
  response->set_limiting_budget(g->limiting_budget);
  response->set_limiting_scope(g->limiting_scope);
  if (g->granted > 0) {
    *response->mutable_expires_at() = ToProto(g->expires_at);
    *response->mutable_ttl() = ToProtoDuration(g->ttl);
    response->set_arm_before_use(g->arm_before_use);
  } else {
    *response->mutable_retry_at() = ToProto(g->retry_at);
  }
  return grpc::Status::OK;
}

grpc::Status ThrottleServiceImpl::ArmTokens(grpc::ServerContext* context,
                                            const v1::ArmTokensRequest* request,
                                            v1::ArmTokensResponse* response) {
  if (grpc::Status s = authorizer_->Check(context); !s.ok()) return s;
  if (grpc::Status s = CheckId(request->agent_id(), "agent_id", true); !s.ok()) return s;
  if (request->lease_id() <= 0) return Invalid("lease_id must be positive");
  absl::StatusOr<int64_t> armed =
      throttler_->ArmTokens(request->agent_id(), request->lease_id(), request->count());
  if (!armed.ok()) return ToGrpcStatus(armed.status());
  response->set_armed(static_cast<int32_t>(*armed));
  return grpc::Status::OK;
}

grpc::Status ThrottleServiceImpl::ReportBatch(grpc::ServerContext* context,
                                              const v1::ReportBatchRequest* request,
                                              v1::ReportBatchResponse* response) {
  if (grpc::Status s = authorizer_->Check(context); !s.ok()) return s;
  if (grpc::Status s = CheckId(request->agent_id(), "agent_id", false); !s.ok()) return s;
  if (request->observations_size() > kMaxBatch || request->returns_size() > kMaxBatch) {
    return Invalid(
        absl::StrCat("observations and returns must have at most ", kMaxBatch, " entries each"));
  }
  // Validate everything before applying anything: a rejected batch changes
  // nothing, so the agent can fix and resend it whole.
  std::vector<throttle::Observation> observations(request->observations_size());
  for (int i = 0; i < request->observations_size(); ++i) {
    grpc::Status s = ToObservation(request->observations(i), absl::StrCat("observations[", i, "]"),
                                   &observations[i]);
    if (!s.ok()) return s;
  }
  std::vector<throttle::TokenReturn> returns(request->returns_size());
  for (int i = 0; i < request->returns_size(); ++i) {
    const v1::TokenReturn& r = request->returns(i);
    if (r.lease_id() <= 0)
      return Invalid(absl::StrCat("returns[", i, "].lease_id must be positive"));
    absl::Status unspent =
        throttle::CheckUnspent(absl::StrCat("returns[", i, "].unspent"), r.unspent());
    if (!unspent.ok()) return ToGrpcStatus(unspent);
    returns[i] = throttle::TokenReturn{r.lease_id(), r.unspent()};
  }
  throttler_->ReportBatch(request->agent_id(), observations, returns);
  return grpc::Status::OK;
}

grpc::Status ThrottleServiceImpl::WatchRevocations(grpc::ServerContext* context,
                                                   const v1::WatchRevocationsRequest* request,
                                                   grpc::ServerWriter<v1::Revocation>* writer) {
  if (grpc::Status s = authorizer_->Check(context); !s.ok()) return s;
  if (grpc::Status s = CheckId(request->agent_id(), "agent_id", false); !s.ok()) return s;
  auto watcher = std::make_shared<Watcher>();
  watcher->agent_id = request->agent_id();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator is shutting down");
    }
    watchers_.insert(watcher);
  }
  // Registered before reading the active restrictions: a restriction raced
  // between the two is sent twice rather than never.
  for (const throttle::RevocationEvent& event : throttler_->ActiveRestrictions()) {
    std::lock_guard<std::mutex> wl(watcher->mu);
    FillRevocation(event, watcher->agent_id, &watcher->queue.emplace_back());
  }
  writer->SendInitialMetadata();

  grpc::Status result = grpc::Status::OK;
  std::vector<v1::Revocation> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> wl(watcher->mu);
      watcher->cv.wait_for(wl, kCancelPoll, [&] {
        return !watcher->queue.empty() || watcher->closed || watcher->overflow;
      });
      if (watcher->closed) {
        result = grpc::Status(grpc::StatusCode::UNAVAILABLE, "coordinator is shutting down");
        break;
      }
      if (watcher->overflow) {
        result = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                              "revocations not read fast enough; reconnect");
        break;
      }
      batch.assign(std::make_move_iterator(watcher->queue.begin()),
                   std::make_move_iterator(watcher->queue.end()));
      watcher->queue.clear();
    }
    if (context->IsCancelled()) {
      result = grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled");
      break;
    }
    bool ok = true;
    for (const v1::Revocation& r : batch) {
      if (!writer->Write(r)) {
        ok = false;
        break;
      }
    }
    batch.clear();
    if (!ok) {
      result = grpc::Status(grpc::StatusCode::CANCELLED, "watcher went away");
      break;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  watchers_.erase(watcher);
  return result;
}

}  // namespace sluice
