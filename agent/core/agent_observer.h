// AgentObserver is told what an Agent does that its metrics show as it
// happens (agent/ops/agent_metrics.h), without the worker loop knowing
// about metrics: each upstream call, as it is reported to the throttler,
// and each wait for a rate token.
//
// Thread-safety: implementations are called from the workers, concurrently.
#ifndef SLUICE_AGENT_CORE_AGENT_OBSERVER_H_
#define SLUICE_AGENT_CORE_AGENT_OBSERVER_H_

#include <chrono>

#include "agent/throttle/rate_gate.h"

namespace sluice::agent {

class AgentObserver {
 public:
  virtual ~AgentObserver() = default;
  virtual void UpstreamCall(const UpstreamObservation& observation) = 0;
  // How long a worker waited for a rate token, and whether it got one.
  virtual void TokenWait(std::chrono::steady_clock::duration waited, bool granted) = 0;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_CORE_AGENT_OBSERVER_H_
