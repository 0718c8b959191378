#include "client/throttle/local_throttle.h"

#include <thread>

#include "common/time_util.h"

namespace sluice::client {

agent::CoordinatorRateGateOptions LocalThrottle::GateOptions(const LocalThrottleOptions& options) {
  agent::CoordinatorRateGateOptions g;
  g.agent_id = options.client_id;
  g.rpc = options.rpc;
  g.report_batch = options.report_batch;
  g.report_interval = options.report_interval;
  g.egress = options.egress;
  g.lease_batch = options.lease_batch;
  g.refill_below = options.refill_below;
  g.refill_parallel = options.refill_parallel;
  // No arming: a round trip per token would undo deciding locally. A crash
  // of this process then costs its unspent tokens as spent until they lapse.
  g.arm_chunk = 0;
  return g;
}

LocalThrottle::LocalThrottle(LocalThrottleOptions options,
                             std::shared_ptr<grpc::ChannelInterface> channel, const Clock* clock)
    : options_(std::move(options)),
      clock_(clock),
      gate_(GateOptions(options_), sluice::v1::ThrottlerService::NewStub(channel), clock) {}

LocalThrottle::~LocalThrottle() { Shutdown(); }

absl::Status LocalThrottle::Start(Duration wait) {
  gate_.Start();
  const auto until = std::chrono::steady_clock::now() + wait;
  while (!gate_.watching()) {
    if (std::chrono::steady_clock::now() >= until) {
      return absl::UnavailableError("the coordinator's revocation stream did not open");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return absl::OkStatus();
}

LocalThrottle::Decision LocalThrottle::Acquire(const Route& route, Duration max_wait) {
  Decision d;
  const TimePoint now = clock_->Now();
  // Without the revocation stream a token could be spent after its lease was
  // revoked: hand out none (the gate drops what it holds and reconnects).
  if (!gate_.watching()) {
    d.retry_at = now + std::chrono::milliseconds(100);
    d.limiting_budget = "(revocation stream not open)";
    return d;
  }
  agent::GateRefusal refusal;
  absl::StatusOr<agent::Permit> permit = gate_.Acquire(route, now + max_wait, &refusal);
  if (permit.ok()) {
    d.granted = true;
    d.lease_id = permit->lease_id;
    d.incarnation = permit->incarnation;
    return d;
  }
  d.retry_at = refusal.retry_at > now ? refusal.retry_at : now;
  d.limiting_budget = refusal.limiting_budget;
  return d;
}

void LocalThrottle::Release(const Route& route, const Decision& taken) {
  gate_.Release(agent::Permit{route, taken.lease_id, taken.incarnation});
}

TimePoint LocalThrottle::NextPermitted(const Route& route) {
  const TimePoint now = clock_->Now();
  if (gate_.watching() && gate_.Available(route) > 0) return now;
  if (TimePoint at = gate_.RetryAt(route); at > now) return at;
  // Nothing held and nothing known: lease as Acquire would, and put the
  // token back. The answer is then the lease's or the refusal's.
  Decision d = Acquire(route);
  if (!d.granted) return d.retry_at;
  Release(route, d);
  return now;
}

void LocalThrottle::Report(const Route& route, const Decision& taken, int status,
                           agent::HeaderMap headers, std::chrono::steady_clock::time_point sent_at,
                           std::chrono::steady_clock::time_point received_at) {
  agent::UpstreamObservation o;
  o.route = route;
  o.status = status;
  o.headers = std::move(headers);
  o.observed_at = clock_->Now();
  o.lease_id = taken.lease_id;
  o.incarnation = taken.incarnation;
  o.sent_at = sent_at;
  o.received_at = received_at;
  gate_.Report(std::move(o));
}

void LocalThrottle::Shutdown() { gate_.Shutdown(); }

}  // namespace sluice::client
