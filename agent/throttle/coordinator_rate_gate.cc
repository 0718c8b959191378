#include "agent/throttle/coordinator_rate_gate.h"

#include <glog/logging.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "agent/core/backoff.h"
#include "agent/throttle/rate_limit_headers.h"
#include "common/time_util.h"

namespace sluice::agent {
namespace {

// The revocation stream is long-lived; the deadline only bounds a stream that
// silently died on a half-open connection (keepalive catches most).
constexpr auto kWatchDeadline = std::chrono::hours(24);
// A stream that lived this long was healthy: reconnect quickly next time.
constexpr auto kHealthyStreamAge = std::chrono::seconds(30);
// Per-route state of routes not asked for lately is dropped this often (a
// route per character: they would pile up).
constexpr auto kPruneInterval = std::chrono::seconds(30);
// Failed calls kept for a takeover's settlement (ReportBatchRequest allows
// 10,000 settled_errors); beyond it the oldest go and the list covers less.
constexpr size_t kMaxRecentErrors = 5000;

// 16 hex digits, random: names this process of the agent.
std::string NewInstanceId() {
  std::random_device rd;
  const uint64_t v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  char buf[17];
  snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

Duration LeaseErrorBackoff(int failures) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  long long ceiling = std::min<long long>(100LL << std::min(failures, 6), 5000);
  std::uniform_int_distribution<long long> dist(ceiling / 2, ceiling);
  return std::chrono::milliseconds(dist(rng));
}

}  // namespace

CoordinatorRateGate::CoordinatorRateGate(
    CoordinatorRateGateOptions options,
    std::unique_ptr<sluice::v1::ThrottlerService::StubInterface> stub, const Clock* clock)
    : options_(std::move(options)),
      stub_(std::move(stub)),
      clock_(clock),
      instance_(NewInstanceId()),
      ledger_(clock, options_.safety_margin),
      settlement_(std::chrono::steady_clock::now()),
      reporter_(options_, stub_.get(), this) {
  CHECK(stub_ != nullptr);
  CHECK_GE(options_.lease_batch, 1);
  CHECK_LE(options_.lease_batch, 1000);
  CHECK_GE(options_.arm_chunk, 0);
  CHECK_LE(options_.arm_chunk, 1000);
  CHECK_GE(options_.refill_below, 0);
  CHECK_GE(options_.refill_parallel, 1);
  CHECK_LE(options_.refill_parallel, 16);
}

CoordinatorRateGate::~CoordinatorRateGate() { Shutdown(); }

void CoordinatorRateGate::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  CHECK(!started_) << "Start() called twice";
  CHECK(!shut_down_) << "Start() after Shutdown()";
  started_ = true;
  watch_thread_ = std::thread([this] { WatchLoop(); });
  if (options_.refill_below > 0) {
    for (int i = 0; i < options_.refill_parallel; ++i) {
      refill_threads_.emplace_back([this] { RefillLoop(); });
    }
  }
  reporter_.Start();
}

sluice::v1::RouteRef CoordinatorRateGate::ToRouteRef(const Route& route) const {
  sluice::v1::RouteRef ref;
  ref.set_upstream(route.upstream);
  ref.set_route(route.path_template);
  ref.set_egress(options_.egress);
  ref.set_caller(route.caller);
  return ref;
}

absl::StatusOr<Permit> CoordinatorRateGate::Acquire(const Route& route, TimePoint deadline,
                                                    GateRefusal* refusal) {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (cancelled_) return absl::CancelledError("rate gate is shutting down");
    if (auto lease_id = ledger_.Take(route)) {
      if (options_.refill_below > 0) MaybeRefillAheadLocked(route);
      settlement_.Started(settlement_.newest());
      return Permit{route, *lease_id, settlement_.newest()};
    }
    // Tokens held but not armed: arm some (the answer may also bring tokens
    // other callers armed) rather than lease more.
    if (auto order = ledger_.BeginArming(route, std::max(1, options_.arm_chunk))) {
      Arm(route, *order, &lock);
      continue;
    }
    // Looked up on every pass: entries idle for a while are pruned, but never
    // one with a LeaseTokens call in flight.
    RouteState& state = routes_[route];
    TimePoint now = clock_->Now();
    // Tokens being armed by other callers come soon: wait for them.
    if (state.refills == 0 && now >= state.next_ask_at && ledger_.Arming(route) == 0) {
      Refill(route, &state, &lock);
      continue;
    }
    // The throttler said when this route has room again; waiting past the
    // caller's deadline for it helps nobody.
    if (now >= deadline || (state.refills == 0 && state.next_ask_at > deadline)) {
      if (refusal != nullptr) {
        refusal->retry_at = std::max(state.next_ask_at, now);
        refusal->limiting_budget = state.limiting_budget;
        refusal->limiting_scope = state.limiting_scope;
      }
      return absl::DeadlineExceededError(absl::StrCat(
          "no rate token for ", route.Key(), " before the deadline; throttler says ask again at ",
          FormatRfc3339(state.next_ask_at),
          state.limiting_budget.empty() ? "" : absl::StrCat(" (", state.limiting_budget, ")")));
    }
    TimePoint wake = state.refills > 0 ? deadline : std::min(deadline, state.next_ask_at);
    // Short bounded waits: the clock may be a FakeClock that real time does
    // not move, and revocations or returned tokens also notify.
    auto wait = std::clamp<Duration>(wake - now, std::chrono::milliseconds(1),
                                     std::chrono::milliseconds(100));
    cv_.wait_for(lock, wait);
  }
}

void CoordinatorRateGate::MaybeRefillAheadLocked(const Route& route) {
  if (ledger_.Available(route) >= options_.refill_below) return;
  RouteState& state = routes_[route];
  if (state.refills + state.refills_queued >= options_.refill_parallel ||
      clock_->Now() < state.next_ask_at) {
    return;
  }
  ++state.refills_queued;
  refill_queue_.push_back(route);
  cv_.notify_all();
}

void CoordinatorRateGate::RefillLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !refill_queue_.empty(); });
    if (stopping_) return;
    const Route route = std::move(refill_queue_.front());
    refill_queue_.pop_front();
    RouteState& state = routes_[route];
    --state.refills_queued;
    if (state.refills < options_.refill_parallel && clock_->Now() >= state.next_ask_at) {
      Refill(route, &state, &lock);
    }
  }
}

void CoordinatorRateGate::PruneRoutesLocked(TimePoint now) {
  for (auto it = routes_.begin(); it != routes_.end();) {
    const RouteState& st = it->second;
    const bool idle =
        st.refills == 0 && st.refills_queued == 0 && st.next_ask_at <= now && st.failures == 0;
    it = idle ? routes_.erase(it) : std::next(it);
  }
}

void CoordinatorRateGate::Refill(const Route& route, RouteState* state,
                                 std::unique_lock<std::mutex>* lock) {
  ++state->refills;
  ++stats_.lease_calls;
  lock->unlock();

  sluice::v1::LeaseTokensRequest request;
  request.set_agent_id(options_.agent_id);
  *request.mutable_route() = ToRouteRef(route);
  request.set_count(options_.lease_batch);
  request.set_arm_before_use(options_.arm_chunk > 0);
  request.set_agent_instance(instance_);
  sluice::v1::LeaseTokensResponse response;
  grpc::ClientContext context;
  PrepareContext(&context, options_.rpc, options_.rpc_timeout);
  const TimePoint asked_at = clock_->Now();
  grpc::Status status = stub_->LeaseTokens(&context, request, &response);

  lock->lock();
  --state->refills;
  TimePoint now = clock_->Now();
  if (status.ok() && !SeenIncarnationLocked(response.incarnation()) && response.granted() > 0) {
    // A deposed coordinator's lease, after its successor's: never spent
    // (its holder is gone or going; returning it to the new one could meet
    // a lease of the same id there). Ask again shortly.
    ++stats_.stale_leases;
    state->next_ask_at = std::max(state->next_ask_at, now + options_.min_retry_wait);
    LOG_EVERY_N(WARNING, 20) << "lease " << response.lease_id() << " of incarnation "
                             << response.incarnation() << " after one of " << settlement_.newest()
                             << ": not spent";
  } else if (!status.ok()) {
    ++stats_.lease_errors;
    ++state->failures;
    state->next_ask_at = now + LeaseErrorBackoff(state->failures);
    LOG_EVERY_N(WARNING, 20) << "LeaseTokens(" << route.Key() << ") failed: " << status.error_code()
                             << " " << status.error_message() << " (" << google::COUNTER
                             << " times)";
  } else if (response.granted() > 0) {
    state->failures = 0;
    // A refusal still standing (another call's, leasing ahead) keeps its
    // reason.
    if (state->next_ask_at <= now) {
      state->limiting_budget.clear();
      state->limiting_scope.clear();
    }
    TimePoint expires = response.has_ttl() ? asked_at + FromProtoDuration(response.ttl())
                                           : FromProto(response.expires_at());
    int usable = ledger_.AddLease(route, response.lease_id(), response.granted(), expires,
                                  response.arm_before_use());
    if (usable == 0) {
      // Already expired on arrival: clocks disagree or the lease was revoked
      // on the way. Do not spin asking for more.
      state->next_ask_at = std::max(state->next_ask_at, now + options_.min_retry_wait);
      LOG_EVERY_N(WARNING, 20) << "lease " << response.lease_id() << " for " << route.Key()
                               << " unusable on arrival (usable until " << FormatRfc3339(expires)
                               << ", now " << FormatRfc3339(now) << ")";
    }
  } else {
    ++stats_.lease_refusals;
    state->failures = 0;
    TimePoint retry_at = response.has_retry_at() ? FromProto(response.retry_at()) : now;
    state->next_ask_at = std::max(retry_at, now + options_.min_retry_wait);
    state->limiting_budget = response.limiting_budget();
    state->limiting_scope = response.limiting_scope();
    VLOG(1) << "LeaseTokens(" << route.Key() << ") refused by budget " << response.limiting_budget()
            << "; retry at " << FormatRfc3339(state->next_ask_at);
  }
  cv_.notify_all();
}

void CoordinatorRateGate::Arm(const Route& route, const TokenLedger::ArmOrder& order,
                              std::unique_lock<std::mutex>* lock) {
  ++stats_.arm_calls;
  lock->unlock();

  sluice::v1::ArmTokensRequest request;
  request.set_agent_id(options_.agent_id);
  request.set_lease_id(order.lease_id);
  request.set_count(order.count);
  sluice::v1::ArmTokensResponse response;
  grpc::ClientContext context;
  PrepareContext(&context, options_.rpc, options_.rpc_timeout);
  grpc::Status status = stub_->ArmTokens(&context, request, &response);

  lock->lock();
  if (status.ok()) {
    ledger_.Armed(order, response.armed());
  } else {
    // Whether refused or unanswered, the tokens stay unused: an arm the
    // coordinator applied but could not confirm only costs this lease's
    // reservation until it lapses.
    ++stats_.arm_failures;
    ledger_.ArmFailed(order);
    // Leasing again at once would meet the same refusal (or outage): back
    // off as after a failed LeaseTokens.
    RouteState& state = routes_[route];
    ++state.failures;
    state.next_ask_at =
        std::max(state.next_ask_at, clock_->Now() + LeaseErrorBackoff(state.failures));
    LOG_EVERY_N(WARNING, 20) << "ArmTokens(lease " << order.lease_id
                             << ") failed: " << status.error_code() << " " << status.error_message()
                             << "; its tokens are returned (" << google::COUNTER << " times)";
  }
  cv_.notify_all();
}

TimePoint CoordinatorRateGate::RetryAt(const Route& route) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = routes_.find(route);
  if (it == routes_.end() || it->second.refills > 0) return TimePoint{};
  if (ledger_.Available(route) > 0) return TimePoint{};
  return it->second.next_ask_at;
}

void CoordinatorRateGate::Release(const Permit& permit) {
  std::lock_guard<std::mutex> lock(mu_);
  // A token of an older incarnation's lease is not taken back: it was
  // dropped with that lease when the newer one was seen.
  if (permit.incarnation == 0 || permit.incarnation == settlement_.newest()) {
    ledger_.Release(permit.route, permit.lease_id);
  }
  settlement_.Finished(permit.incarnation);
  cv_.notify_all();
}

bool CoordinatorRateGate::SeenIncarnationLocked(uint64_t incarnation) {
  if (settlement_.Seen(incarnation)) {
    // A coordinator took over: the old one's leases are not spent again.
    ++stats_.takeovers;
    const int dropped = ledger_.DropAll();
    LOG(INFO) << "throttler incarnation " << incarnation << " (a coordinator took over): dropped "
              << dropped << " unspent token(s) of older leases";
    cv_.notify_all();
    return true;
  }
  return settlement_.Spendable(incarnation);
}

SettlementReport CoordinatorRateGate::TakeSettlement(uint64_t delivered) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  while (!recent_errors_.empty() &&
         recent_errors_.front().received_at + settlement_.error_history() < now) {
    recent_errors_.pop_front();
  }
  SettlementReport out;
  const uint64_t settled = settlement_.SettledBefore();
  if (settled <= delivered) return out;
  out.settled_before = settled;
  out.instance = instance_;
  out.errors.assign(recent_errors_.begin(), recent_errors_.end());
  out.errors_cover = settlement_.ErrorCover(now);
  out.errors_since_start = settlement_.ErrorsSinceStart(now) &&
                           errors_capped_until_ == std::chrono::steady_clock::time_point{};
  // The cap dropped calls answered up to then: the list covers only since.
  if (errors_capped_until_ != std::chrono::steady_clock::time_point{}) {
    out.errors_cover = std::min<std::chrono::steady_clock::duration>(
        out.errors_cover, std::max<std::chrono::steady_clock::duration>(
                              std::chrono::steady_clock::duration::zero(),
                              now - errors_capped_until_ - std::chrono::milliseconds(1)));
  }
  return out;
}

void CoordinatorRateGate::Report(UpstreamObservation observation) {
  sluice::v1::Observation o;
  *o.mutable_route() = ToRouteRef(observation.route);
  o.set_status(observation.status);
  for (auto& [name, value] : ForwardedRateLimitHeaders(observation.headers)) {
    auto* h = o.add_headers();
    h->set_name(std::move(name));
    h->set_value(std::move(value));
  }
  *o.mutable_observed_at() = ToProto(observation.observed_at);
  o.set_lease_id(observation.lease_id);
  const bool error = observation.status == 0 || observation.status >= 400;
  sluice::v1::Observation listed;
  if (error) {
    *listed.mutable_route() = o.route();
    listed.set_status(o.status());
  }
  reporter_.Add(std::move(o), observation.sent_at, observation.received_at);
  // Queued: the call counts as answered and reported from here on.
  std::lock_guard<std::mutex> lock(mu_);
  if (error) {
    recent_errors_.push_back(
        ReportedCall{std::move(listed), observation.sent_at, observation.received_at});
    // Bounded: an agent failing every call would otherwise keep thousands.
    if (recent_errors_.size() > kMaxRecentErrors) {
      errors_capped_until_ = std::max(errors_capped_until_, recent_errors_.front().received_at);
      recent_errors_.pop_front();
    }
  }
  settlement_.Finished(observation.incarnation);
}

void CoordinatorRateGate::CancelWaiters() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  cv_.notify_all();
}

bool CoordinatorRateGate::SleepUnlessStopping(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stopping_; });
}

void CoordinatorRateGate::WatchLoop() {
  Backoff backoff(std::chrono::milliseconds(100), std::chrono::seconds(10));
  sluice::v1::WatchRevocationsRequest request;
  request.set_agent_id(options_.agent_id);
  while (true) {
    grpc::ClientContext context;
    PrepareContext(&context, options_.rpc,
                   std::chrono::duration_cast<std::chrono::milliseconds>(kWatchDeadline));
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      watch_context_ = &context;
    }
    auto opened = std::chrono::steady_clock::now();
    auto reader = stub_->WatchRevocations(&context, request);
    watching_ = true;
    sluice::v1::Revocation revocation;
    while (reader->Read(&revocation)) {
      std::vector<int64_t> ids(revocation.lease_ids().begin(), revocation.lease_ids().end());
      std::lock_guard<std::mutex> lock(mu_);
      ++stats_.revocations;
      std::set<Route> routes = ledger_.Revoke(ids);
      if (revocation.has_until()) {
        TimePoint until = FromProto(revocation.until());
        for (const Route& r : routes) {
          RouteState& state = routes_[r];
          state.next_ask_at = std::max(state.next_ask_at, until);
        }
      }
      LOG(INFO) << "revocation on budget " << revocation.budget() << " (" << revocation.reason()
                << "): " << ids.size() << " lease(s), " << routes.size()
                << " route(s) affected here";
      cv_.notify_all();
    }
    watching_ = false;
    grpc::Status status = reader->Finish();
    int dropped = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      watch_context_ = nullptr;
      if (stopping_) return;
      // Revocations may have been sent while the stream was down: tokens
      // held now might be void. Leases are short, so dropping them is cheap;
      // spending a revoked token is what gets keys banned. A coordinator
      // without the stream (UNIMPLEMENTED) cannot revoke at all, so there is
      // nothing to distrust.
      if (status.error_code() != grpc::StatusCode::UNIMPLEMENTED) dropped = ledger_.DropAll();
      cv_.notify_all();
    }
    if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
      LOG_FIRST_N(WARNING, 1) << "coordinator does not implement WatchRevocations; leases "
                                 "cannot be revoked early";
    } else {
      LOG_EVERY_N(WARNING, 10) << "revocation stream ended: " << status.error_code() << " "
                               << status.error_message() << "; dropped " << dropped
                               << " unspent token(s); reconnecting";
    }
    if (std::chrono::steady_clock::now() - opened > kHealthyStreamAge) backoff.Reset();
    if (!SleepUnlessStopping(backoff.Next())) return;
  }
}

std::vector<TokenReturnEntry> CoordinatorRateGate::TakeReturns() {
  std::lock_guard<std::mutex> lock(mu_);
  ledger_.DropExpired();
  // The reporter asks every report interval: a good moment to drop the
  // state of routes not asked for lately.
  const TimePoint now = clock_->Now();
  if (now >= next_prune_at_) {
    next_prune_at_ = now + kPruneInterval;
    PruneRoutesLocked(now);
  }
  return ledger_.TakeReturns();
}

void CoordinatorRateGate::RestoreReturns(const std::vector<TokenReturnEntry>& returns) {
  std::lock_guard<std::mutex> lock(mu_);
  ledger_.RestoreReturns(returns);
}

bool CoordinatorRateGate::HasReturns() {
  std::lock_guard<std::mutex> lock(mu_);
  ledger_.DropExpired();
  return ledger_.HasReturns();
}

void CoordinatorRateGate::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shut_down_) return;
    shut_down_ = true;
    cancelled_ = true;
    stopping_ = true;
    if (watch_context_ != nullptr) watch_context_->TryCancel();
    cv_.notify_all();
  }
  if (watch_thread_.joinable()) watch_thread_.join();
  for (std::thread& t : refill_threads_) t.join();
  int dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    dropped = ledger_.DropAll();
  }
  if (dropped > 0) LOG(INFO) << "returning " << dropped << " unspent rate token(s)";
  reporter_.Stop();  // its final flush sends them
}

CoordinatorRateGate::Stats CoordinatorRateGate::stats() const {
  Stats out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out = stats_;
    out.tokens = ledger_.stats();
  }
  static_cast<ObservationReporter::Stats&>(out) = reporter_.stats();
  return out;
}

int CoordinatorRateGate::Available(const Route& route) {
  std::lock_guard<std::mutex> lock(mu_);
  return ledger_.Available(route);
}

}  // namespace sluice::agent
