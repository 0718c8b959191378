// StatsCollector counts what clients did to the simulated upstream: requests
// per route template and status, 304s, errors, limit violations by reason,
// injected faults and User-Agents. Tests and the demo read it through
// GET /sim/stats to prove a client stayed within budget.
//
// Ownership: owned by the Simulator.
// Thread-safety: all methods are safe to call concurrently (one mutex).
#ifndef SLUICE_SIM_STATS_H_
#define SLUICE_SIM_STATS_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace sluice::sim {

// Violation reasons, as reported in stats.
inline constexpr char kViolationEsiGroup[] = "esi_group";
inline constexpr char kViolationEsiErrorLimit[] = "esi_error_limit";
inline constexpr char kViolationPoeRestriction[] = "poe_restriction";
inline constexpr char kViolationPoeRule[] = "poe_rule";

class StatsCollector {
 public:
  StatsCollector();

  // One upstream request. `route` is its template, e.g.
  // "GET /alliances/{alliance_id}/"; an empty `user_agent` counts as missing.
  void RecordRequest(const std::string& route, int status, const std::string& user_agent);
  void RecordViolation(const char* reason);
  // "5xx", "slow", "malformed", "429_no_headers".
  void RecordFault(const char* kind);
  void Reset();

  // Shape documented on Simulator::Stats().
  nlohmann::json ToJson() const;

 private:
  // Past this many distinct User-Agents the rest are lumped together, so a
  // client that randomises its UA cannot grow memory without bound.
  static constexpr size_t kMaxUserAgents = 64;

  mutable std::mutex mu_;
  uint64_t requests_ = 0;                        // guarded by mu_
  uint64_t not_modified_ = 0;                    // guarded by mu_
  uint64_t errors_ = 0;                          // guarded by mu_
  uint64_t without_user_agent_ = 0;              // guarded by mu_
  std::map<std::string, uint64_t> by_route_;     // guarded by mu_
  std::map<int, uint64_t> by_status_;            // guarded by mu_
  std::map<std::string, uint64_t> violations_;   // guarded by mu_
  std::map<std::string, uint64_t> faults_;       // guarded by mu_
  std::map<std::string, uint64_t> user_agents_;  // guarded by mu_
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_STATS_H_
