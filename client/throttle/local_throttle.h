// LocalThrottle lets another team's process decide "may I call this upstream
// route now?" in its own memory, from rate tokens it leases in bulk from the
// coordinator's global throttler, as Sluice's agents do. Underneath it is
// the agents' CoordinatorRateGate (agent/throttle/coordinator_rate_gate.h):
// LeaseTokens batches (leased ahead, before the pool runs dry),
// WatchRevocations, and ReportBatch for observations and returned tokens.
// The protocol, for clients in other languages: server/throttle/README.md
// ("Agent protocol", "Deciding locally").
//
//   * Acquire spends one leased token: the right to make exactly one
//     upstream call, now. It never hands out more tokens than the
//     coordinator granted, nor a token of a revoked or expired lease. When
//     nothing is held it may wait for one LeaseTokens round trip (and up to
//     max_wait for room); a refusal says when to ask again.
//   * NextPermitted consumes nothing: now while a token is held (leasing
//     some if none is and the coordinator said nothing against it),
//     otherwise when the coordinator said the route has room again.
//   * Report every call made with a token (status and response headers):
//     queued and sent in batches; the throttler learns the upstream's
//     limits from them and settles the call at its real cost.
//   * Tokens are spent only while the revocation stream is open: Start()
//     waits for it. A revocation drops the named leases' tokens at once; a
//     broken stream drops every token (they are returned when it is back).
//   * Shutdown() returns every unspent token and flushes the reports.
//
// Ownership: owns the gate and its threads; shares the channel it is given. Thread-safety: every
// method may be called from any thread.
#ifndef SLUICE_CLIENT_THROTTLE_LOCAL_THROTTLE_H_
#define SLUICE_CLIENT_THROTTLE_LOCAL_THROTTLE_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/http/header_map.h"
#include "agent/throttle/coordinator_rate_gate.h"
#include "agent/throttle/route.h"
#include "common/clock.h"
#include "common/grpc_security.h"
#include "sluice/v1/throttle.grpc.pb.h"

namespace sluice::client {

using agent::Route;

struct LocalThrottleOptions {
  // Names this process to the coordinator (leases, revocations, reports):
  // unique per process, e.g. "<team>-<host>-<pid>".
  std::string client_id;
  // Auth token and TLS of the calls (the target is the channel's).
  ClientOptions rpc;
  // This process's egress address, for per-address upstream limits.
  std::string egress;
  // Tokens asked per lease (1..1000; the coordinator grants at most its
  // --throttle_max_lease_calls, 100 by default, and a quarter of any
  // budget).
  int lease_batch = 100;
  // Lease the next batch in the background once fewer than this many tokens
  // of a route are left (0: only when none is).
  int refill_below = 50;
  // LeaseTokens calls in flight per route when leasing ahead (1..16): more
  // when tokens are spent faster than one lease per round trip brings.
  int refill_parallel = 2;
  // Calls per ReportBatch and how often one is sent while any is queued.
  size_t report_batch = 256;
  std::chrono::milliseconds report_interval{50};
};

class LocalThrottle {
 public:
  // Granted: pass it to Report, or to Release if the call is not made.
  struct Decision {
    bool granted = false;
    int64_t lease_id = 0;
    // The throttler incarnation whose lease the token is of: after a
    // takeover, the Report of the last call of an older one lets this
    // process tell the new coordinator it has nothing of the old one's out.
    uint64_t incarnation = 0;
    // Refused: when to ask again, and the budget that binds.
    TimePoint retry_at;
    std::string limiting_budget;
  };

  LocalThrottle(LocalThrottleOptions options, std::shared_ptr<grpc::ChannelInterface> channel,
                const Clock* clock);
  ~LocalThrottle();  // Shutdown()
  LocalThrottle(const LocalThrottle&) = delete;
  LocalThrottle& operator=(const LocalThrottle&) = delete;

  // Opens the revocation stream and waits up to `wait` for it: UNAVAILABLE
  // if it did not open (the throttle keeps trying; Acquire hands out nothing
  // until it does).
  absl::Status Start(Duration wait = std::chrono::seconds(10));

  // Spends one token for `route`: one upstream call may be made now.
  Decision Acquire(const Route& route, Duration max_wait = Duration::zero());
  // A token taken but not used (the call was not made).
  void Release(const Route& route, const Decision& taken);
  // When a call of `route` may be made; consumes nothing.
  TimePoint NextPermitted(const Route& route);
  // How a call made with a token went: status (0 = no HTTP answer), the
  // response headers, and the monotonic instants it was sent and answered.
  void Report(const Route& route, const Decision& taken, int status, agent::HeaderMap headers,
              std::chrono::steady_clock::time_point sent_at,
              std::chrono::steady_clock::time_point received_at);
  // Returns unspent tokens, flushes reports, stops. Idempotent.
  void Shutdown();

  // Spendable tokens held for `route`.
  int Available(const Route& route) { return gate_.Available(route); }
  bool watching() const { return gate_.watching(); }
  agent::CoordinatorRateGate::Stats stats() const { return gate_.stats(); }

 private:
  static agent::CoordinatorRateGateOptions GateOptions(const LocalThrottleOptions& options);

  const LocalThrottleOptions options_;
  const Clock* const clock_;
  agent::CoordinatorRateGate gate_;
};

}  // namespace sluice::client

#endif  // SLUICE_CLIENT_THROTTLE_LOCAL_THROTTLE_H_
