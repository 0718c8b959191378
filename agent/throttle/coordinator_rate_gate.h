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
//   * Arming (arm_chunk > 0): leases are asked with arm_before_use, and a
//     token of a lease granted so is handed out only once ArmTokens has
//     armed it, so the coordinator knows every call that may have started:
//     if this process dies, the tokens it never used stop holding the
//     upstream's budgets (ESI's error limit above all) when their lease
//     expires instead of being charged as spent 35 s later. The caller that
//     finds no armed token arms a chunk itself, outside the gate's mutex;
//     others wait for it or arm other tokens. A failed arm (refused:
//     revoked, expired, unknown lease; or the coordinator unreachable) drops
//     the lease and returns its tokens; nothing is spent on it.
//   * WatchRevocations: a background server stream; a Revocation's lease ids
//     are dropped from the pools at once, and their routes are not asked
//     again before the revocation's `until`. A broken stream is reconnected
//     with backoff, and since revocations may have been missed meanwhile,
//     tokens held when it broke are dropped.
//   * Report: the observation (only its rate-limit headers) goes to the
//     gate's ObservationReporter (observation_reporter.h), which sends it in
//     ReportBatch calls together with the unspent counts of dropped leases;
//     the gate is the reporter's TokenReturnSource, handing it what the
//     ledger owes (and pruning idle route state while at it).
//   * Leasing ahead (refill_below > 0, for the local-decision client
//     client/throttle/local_throttle.h; agents leave it off): a thread of the
//     gate leases a route's next batch as soon as fewer than refill_below of
//     its tokens are left (up to refill_parallel calls in flight per
//     route), so a caller rarely waits for LeaseTokens.
//   * Takeovers: every LeaseTokens answer names the throttler's
//     incarnation. A newer one (a coordinator took over) drops every token
//     held (the old leases are not spent again) and a lease of an older one
//     arriving late is never spent; once every call started under an older
//     lease is answered and reported, the next ReportBatch says so
//     (settled_before_incarnation, incarnation_settlement.h), with the calls
//     that failed, which lets the new coordinator stop charging those calls
//     as possible ESI errors. Leases name this process (agent_instance, random
//     at start), so a restarted agent never speaks for its predecessor.
//     Report() must get the Permit's incarnation in the observation.
//   * Shutdown: drops every unspent token (so it is owed back), then stops
//     the reporter, whose final flush returns them with the last
//     observations.
//
// Ownership: owns the stub, the revocation thread and the reporter (which
// borrows the stub and the gate). Thread-safety: all public methods are safe
// from any thread. Start() once before use.
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
#include <vector>

#include "agent/throttle/incarnation_settlement.h"
#include "agent/throttle/observation_reporter.h"
#include "agent/throttle/rate_gate.h"
#include "agent/throttle/token_ledger.h"
#include "common/clock.h"
#include "common/grpc_security.h"
#include "sluice/v1/throttle.grpc.pb.h"

namespace sluice::agent {

// The reporter's options (agent_id, rpc and rpc_timeout serve every call of
// the gate) and the leasing ones.
struct CoordinatorRateGateOptions : ObservationReporterOptions {
  // This host's egress address, for per-IP upstream rules (RouteRef.egress).
  std::string egress;
  // Tokens asked per LeaseTokens call (1..1000).
  int lease_batch = 8;
  // A lease is not spent closer than this to its expires_at.
  Duration safety_margin = std::chrono::milliseconds(250);
  // Floor for "ask again" waits when a refusal names no usable retry_at.
  Duration min_retry_wait = std::chrono::milliseconds(100);
  // Tokens armed per ArmTokens call (1..1000); 0 = lease without arming (a
  // crash then costs every unspent token as spent). 1: one coordinator round
  // trip per upstream call, and an armed token is taken by the caller that
  // armed it at once, so a crash costs the calls in flight and nothing
  // more; larger chunks save round trips but leave armed tokens waiting,
  // each charged as a spent call (an ESI error) if the process dies.
  int arm_chunk = 1;
  // > 0: lease a route's next batch in the background once fewer than this
  // many of its tokens are spendable (see the header). 0: only when empty.
  int refill_below = 0;
  // Lease-ahead threads, and LeaseTokens calls of theirs in flight per route
  // at most (1..16): when one lease's tokens go faster than a round trip.
  int refill_parallel = 1;
};

class CoordinatorRateGate final : public RateGate, private TokenReturnSource {
 public:
  // The reporter's counters and the leasing ones.
  struct Stats : ObservationReporter::Stats {
    int64_t lease_calls = 0;
    int64_t lease_refusals = 0;  // granted == 0
    int64_t lease_errors = 0;
    int64_t arm_calls = 0;
    int64_t arm_failures = 0;  // refused, or the coordinator could not be asked
    int64_t revocations = 0;
    int64_t takeovers = 0;     // a newer incarnation seen: tokens held dropped
    int64_t stale_leases = 0;  // leases of an older incarnation, never spent
    TokenLedger::Stats tokens;
  };

  CoordinatorRateGate(CoordinatorRateGateOptions options,
                      std::unique_ptr<sluice::v1::ThrottlerService::StubInterface> stub,
                      const Clock* clock);
  ~CoordinatorRateGate() override;
  CoordinatorRateGate(const CoordinatorRateGate&) = delete;
  CoordinatorRateGate& operator=(const CoordinatorRateGate&) = delete;

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
    int refills = 0;              // LeaseTokens calls in flight for the route
    int refills_queued = 0;       // waiting for a lease-ahead thread
    TimePoint next_ask_at{};      // do not call LeaseTokens before this
    int failures = 0;             // consecutive LeaseTokens errors
    std::string limiting_budget;  // of the last refusal
    std::string limiting_scope;
  };

  sluice::v1::RouteRef ToRouteRef(const Route& route) const;
  // Called with mu_ held, released around the RPC.
  void Refill(const Route& route, RouteState* state, std::unique_lock<std::mutex>* lock);
  // ArmTokens for `order` of `route`; called with mu_ held, released around
  // the RPC.
  void Arm(const Route& route, const TokenLedger::ArmOrder& order,
           std::unique_lock<std::mutex>* lock);
  void PruneRoutesLocked(TimePoint now);  // requires mu_
  // Queues `route` for the lease-ahead thread if it runs low; requires mu_.
  void MaybeRefillAheadLocked(const Route& route);
  void WatchLoop();
  void RefillLoop();
  // TokenReturnSource, for the reporter: what the ledger owes (expired
  // leases dropped first).
  std::vector<TokenReturnEntry> TakeReturns() override;
  void RestoreReturns(const std::vector<TokenReturnEntry>& returns) override;
  bool HasReturns() override;
  SettlementReport TakeSettlement(uint64_t delivered) override;
  // A LeaseTokens answer named `incarnation`; false if its lease must not be
  // spent (older than the newest seen). Requires mu_.
  bool SeenIncarnationLocked(uint64_t incarnation);
  // Sleeps unless/until Shutdown starts; false if interrupted.
  bool SleepUnlessStopping(std::chrono::milliseconds d);

  const CoordinatorRateGateOptions options_;
  const std::unique_ptr<sluice::v1::ThrottlerService::StubInterface> stub_;
  const Clock* const clock_;
  // This process among the agent's (LeaseTokensRequest.agent_instance).
  const std::string instance_;

  mutable std::mutex mu_;  // guards everything below up to watching_
  std::condition_variable cv_;
  TokenLedger ledger_;
  // Every lease in ledger_ is of settlement_.newest().
  IncarnationSettlement settlement_;
  // Calls answered within settlement_.error_history() that count against an
  // error limit, oldest first: listed with a settlement.
  std::deque<ReportedCall> recent_errors_;
  // The latest answer of a call the size cap dropped from it.
  std::chrono::steady_clock::time_point errors_capped_until_{};
  std::map<Route, RouteState> routes_;
  std::deque<Route> refill_queue_;  // routes for the lease-ahead thread
  bool cancelled_ = false;
  bool stopping_ = false;
  bool started_ = false;
  bool shut_down_ = false;
  grpc::ClientContext* watch_context_ = nullptr;
  Stats stats_;
  TimePoint next_prune_at_{};

  std::atomic<bool> watching_{false};
  std::thread watch_thread_;
  std::vector<std::thread> refill_threads_;  // only with refill_below > 0
  // Declared last: destroyed first, while the stub and ledger it uses live.
  ObservationReporter reporter_;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_THROTTLE_COORDINATOR_RATE_GATE_H_
