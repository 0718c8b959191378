// RateGate is the agent's only way to obtain permission to call an upstream:
// no request leaves without a Permit. It also carries what the upstream said
// (status and rate-limit headers) back to whoever owns the budgets.
//
// Production: CoordinatorRateGate (tokens leased from the coordinator's global
// throttler). Tests: fakes.
//
// Thread-safety: every method may be called from any thread.
#ifndef SLUICE_AGENT_THROTTLE_RATE_GATE_H_
#define SLUICE_AGENT_THROTTLE_RATE_GATE_H_

#include <chrono>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "agent/http/header_map.h"
#include "agent/throttle/route.h"
#include "common/clock.h"

namespace sluice::agent {

// One spent token: the right to make exactly one upstream call now.
struct Permit {
  Route route;
  int64_t lease_id = 0;
  // The incarnation of the throttler that granted the lease (0: not known):
  // carried into the call's UpstreamObservation.
  uint64_t incarnation = 0;
};

// What one upstream call produced, as the throttler needs it.
struct UpstreamObservation {
  Route route;
  int status = 0;     // 0 = transport failure, no HTTP answer
  HeaderMap headers;  // all response headers; the gate forwards what matters
  TimePoint observed_at;
  int64_t lease_id = 0;
  uint64_t incarnation = 0;  // Permit::incarnation
  // Monotonic instants the request went out and its answer (or failure)
  // came back. The throttler receives them as ages at send time, so it can
  // place the call on its own clock whatever the hosts' clocks say.
  std::chrono::steady_clock::time_point sent_at{};
  std::chrono::steady_clock::time_point received_at{};
};

// Why Acquire gave up: when to try the route again and the budget that
// binds, as the throttler said.
struct GateRefusal {
  TimePoint retry_at;
  std::string limiting_budget;
  // Whom that budget bills: "ip:..." when it is this agent's address that
  // has no room (an agent elsewhere may have it), a caller otherwise.
  std::string limiting_scope;
  bool BilledToThisAddress() const { return limiting_scope.rfind("ip:", 0) == 0; }
};

class RateGate {
 public:
  virtual ~RateGate() = default;

  // Blocks until a token for `route` is spent for the caller. Errors:
  // DEADLINE_EXCEEDED if none could be had by `deadline` (at once when the
  // throttler already said the route has no room before then), with
  // *refusal, when given, saying when to try again; CANCELLED once
  // CancelWaiters() or Shutdown() has been called.
  virtual absl::StatusOr<Permit> Acquire(const Route& route, TimePoint deadline,
                                         GateRefusal* refusal = nullptr) = 0;
  // Gives back a permit that was not used (the call was never made).
  virtual void Release(const Permit& permit) = 0;
  // When the throttler last said `route` has room again, if that is still
  // ahead and no token is held for it; the epoch when nothing is known. The
  // agent stops leasing tasks of a kind whose route has no room until then.
  virtual TimePoint RetryAt(const Route& route) {
    (void)route;
    return TimePoint{};
  }
  // Queues an observation for the throttler. Never blocks on the network.
  virtual void Report(UpstreamObservation observation) = 0;
  // Makes current and future Acquire calls fail with CANCELLED (drain).
  virtual void CancelWaiters() = 0;
  // CancelWaiters, then hands back every unspent token, flushes queued
  // observations (best effort) and stops background work. Idempotent.
  virtual void Shutdown() = 0;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_THROTTLE_RATE_GATE_H_
