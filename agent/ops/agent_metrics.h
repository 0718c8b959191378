// AgentMetrics is what an agent's ops listener (--ops_listen: /metrics and
// /healthz, common/metrics/ops_listener.h) shows:
//   sluice_agent_upstream_request_duration_seconds{upstream,group,status_class}
//     each upstream call this agent made (upstream_call_metrics.h)
//   sluice_agent_token_wait_seconds{outcome}  each wait for a rate token
//     (granted / refused)
//   sluice_agent_tasks_*_total, sluice_agent_leases_held, ...  the agent's
//     own counters (AgentStats), read at each scrape
// plus process_* and sluice_build_info.
//
// Ownership: owns its registry; the agent it observes (AgentOptions.observer)
// must stop before it goes; `stats` is called at each scrape and must stay
// callable while the listener serves. Thread-safety: every method is safe
// from any thread.
#ifndef SLUICE_AGENT_OPS_AGENT_METRICS_H_
#define SLUICE_AGENT_OPS_AGENT_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <vector>

#include "agent/core/agent.h"
#include "agent/core/agent_observer.h"
#include "common/metrics/upstream_call_metrics.h"

namespace sluice::agent {

class AgentMetrics : public AgentObserver {
 public:
  AgentMetrics();

  void UpstreamCall(const UpstreamObservation& observation) override;
  void TokenWait(std::chrono::steady_clock::duration waited, bool granted) override;

  // Where the counters come from (the running agent's stats()); before the
  // listener starts.
  void SetStatsSource(std::function<AgentStats()> stats) { stats_ = std::move(stats); }

  // For the ops listener: the registry, the agent's counters, process_* and
  // build info.
  std::vector<std::shared_ptr<const prometheus::Collectable>> Collectables() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  metrics::UpstreamCallMetrics upstream_;
  prometheus::Histogram& wait_granted_;
  prometheus::Histogram& wait_refused_;
  std::function<AgentStats()> stats_;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_OPS_AGENT_METRICS_H_
