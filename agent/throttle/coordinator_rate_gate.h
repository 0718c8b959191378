// CoordinatorRateGate implements RateGate against the coordinator's
// ThrottlerService (protos/sluice/v1/throttle.proto):
//
//   * Acquire: spends a token from the route's local pool (a route is a path
//     template and the caller it is billed to); when the pool is empty, one
//     caller per route asks LeaseTokens for a small batch while the others
//     wait. A grant of 0 carries retry_at: nobody asks for that route again
//     before it (no busy loop), and an Acquire whose deadline comes first
//     gives up at once, saying when to come back (GateRefusal). A lease is spendable until
//     (local time just before asking) + ttl - safety margin, which does not
//     depend on the coordinator's clock agreeing with ours; expires_at is
//     used only from a coordinator that sends no ttl.
//   * WatchRevocations: a background server stream; a Revocation's lease ids
//     are dropped from the pools at once, and their routes are not asked
//     again before the revocation's `until`. A broken stream is reconnected
//     with backoff, and since revocations may have been missed meanwhile,
//     tokens held when it broke are dropped.
//   * Report: observations are queued and a reporter thread sends
//     ReportBatch every report_interval or at report_batch observations,
//     together with the unspent counts of dropped leases (TokenReturn).
//     Each observation carries sent_age/response_age measured at send time.
//     A batch the throttler rejects as invalid is dropped (resending it
//     would fail forever); transport errors keep it for the next attempt.
//   * Shutdown: returns every unspent token and flushes observations.
//
// Ownership: owns the stub and its threads. Thread-safety: all public
// methods are safe from any thread. Start() once before use.
#ifndef SLUICE_AGENT_THROTTLE_COORDINATOR_RATE_GATE_H_
#define SLUICE_AGENT_THROTTLE_COORDINATOR_RATE_GATE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/throttle/rate_gate.h"
#include "agent/throttle/token_ledger.h"
#include "common/clock.h"
#include "common/grpc_security.h"
#include "sluice/v1/throttle.grpc.pb.h"

namespace sluice::agent {

struct CoordinatorRateGateOptions {
  std::string agent_id;
  // This host's egress address, for per-IP upstream rules (RouteRef.egress).
  std::string egress;
  // Auth token and TLS for calls (target is unused: the stub is given).
  ClientOptions rpc;
  // Tokens asked per LeaseTokens call (1..1000).
  int lease_batch = 8;
  // A lease is not spent closer than this to its expires_at.
  Duration safety_margin = std::chrono::milliseconds(250);
  std::chrono::milliseconds rpc_timeout{5000};
  std::chrono::milliseconds report_interval{50};
  size_t report_batch = 64;
  // Oldest observations are dropped beyond this (coordinator unreachable).
  size_t max_queued_observations = 4096;
  // Floor for "ask again" waits when a refusal names no usable retry_at.
  Duration min_retry_wait = std::chrono::milliseconds(100);
};

class CoordinatorRateGate final : public RateGate {
 public:
  struct Stats {
    int64_t lease_calls = 0;
    int64_t lease_refusals = 0;  // granted == 0
    int64_t lease_errors = 0;
    int64_t revocations = 0;
    int64_t observations_sent = 0;
    int64_t observations_dropped = 0;
    int64_t report_errors = 0;
    int64_t observations_rejected = 0;  // batches refused as invalid, dropped
    int64_t tokens_returned = 0;
    TokenLedger::Stats tokens;
  };

  CoordinatorRateGate(CoordinatorRateGateOptions options,
                      std::unique_ptr<sluice::v1::ThrottlerService::StubInterface> stub,
                      const Clock* clock);
  ~CoordinatorRateGate() override;

  // Starts the revocation watcher and the reporter.
  void Start();

  absl::StatusOr<Permit> Acquire(const Route& route, TimePoint deadline,
                                 GateRefusal* refusal = nullptr) override;
  void Release(const Permit& permit) override;
  TimePoint RetryAt(const Route& route) override;
  void Report(UpstreamObservation observation) override;
  void CancelWaiters() override;
  void Shutdown() override;

  Stats stats() const;
  // Spendable tokens held for `route` (for tests and status pages).
  int Available(const Route& route);
  // True while the revocation stream is open.
  bool watching() const { return watching_.load(); }

 private:
  struct RouteState {
    bool refilling = false;   // one LeaseTokens call in flight for the route
    TimePoint next_ask_at{};  // do not call LeaseTokens before this
    int failures = 0;         // consecutive LeaseTokens errors
    std::string limiting_budget;  // of the last refusal
    std::string limiting_scope;
  };

  sluice::v1::RouteRef ToRouteRef(const Route& route) const;
  // Called with mu_ held, released around the RPC.
  void Refill(const Route& route, RouteState* state, std::unique_lock<std::mutex>* lock);
  void PruneRoutesLocked(TimePoint now);  // requires mu_
  void WatchLoop();
  void ReportLoop();
  // One ReportBatch with up to `max` observations plus all owed returns.
  // False if the RPC failed (everything is put back).
  bool SendBatch(size_t max);
  // Observations queued or tokens owed.
  bool HasPending();
  // Sleeps unless/until Shutdown starts; false if interrupted.
  bool SleepUnlessStopping(std::chrono::milliseconds d);

  const CoordinatorRateGateOptions options_;
  const std::unique_ptr<sluice::v1::ThrottlerService::StubInterface> stub_;
  const Clock* const clock_;

  mutable std::mutex mu_;  // guards everything below up to obs_mu_
  std::condition_variable cv_;
  TokenLedger ledger_;
  std::map<Route, RouteState> routes_;
  bool cancelled_ = false;
  bool stopping_ = false;
  bool started_ = false;
  bool shut_down_ = false;
  grpc::ClientContext* watch_context_ = nullptr;
  Stats stats_;
  TimePoint next_prune_at_{};

  mutable std::mutex obs_mu_;
  std::condition_variable obs_cv_;
  struct QueuedObservation {
    sluice::v1::Observation proto;
    std::chrono::steady_clock::time_point sent_at;
    std::chrono::steady_clock::time_point received_at;
  };
  std::deque<QueuedObservation> observations_;
  int64_t observations_dropped_ = 0;  // guarded by obs_mu_
  bool reporter_stop_ = false;        // guarded by obs_mu_

  std::atomic<bool> watching_{false};
  std::thread watch_thread_;
  std::thread report_thread_;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_THROTTLE_COORDINATOR_RATE_GATE_H_
