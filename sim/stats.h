// StatsCollector counts what clients did to the simulated upstream: requests
// per route template, status and caller, 304s, errors, limit violations by
// reason and by caller, injected faults and User-Agents. Tests and the demo
// read it through GET /sim/stats to prove a client stayed within budget.
//
// Callers are the ones the simulator bills ("char:<id>", "ip:<address>", or
// a PoE rule's key such as "account:<token>"). Per-caller maps are capped so
// a client inventing callers cannot grow memory without bound, and the JSON
// shows the busiest callers only (requests_by_caller) or those with
// violations (violations.by_caller).
//
// Ownership: owned by the Simulator.
// Thread-safety: all methods are safe to call concurrently (one mutex).
#ifndef SLUICE_SIM_STATS_H_
#define SLUICE_SIM_STATS_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

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
  void RecordRequest(const std::string& route, int status, const std::string& user_agent,
                     const std::string& caller);
  // A request sent while `caller` was already limited for `reason`.
  void RecordViolation(const char* reason, const std::string& caller);
  // "5xx", "slow", "malformed", "429_no_headers".
  void RecordFault(const char* kind);
  // Whether a request's User-Agent follows its upstream's rule ("esi": names
  // a way to reach the operator, esi-docs best practices; "poe": GGG's
  // "OAuth {clientId}/{version} (contact: {email})", developer/docs).
  void RecordUserAgentFormat(const std::string& upstream, bool follows);
  void Reset();

  // Shape documented on Simulator::Stats().
  nlohmann::json ToJson() const;

  // requests_by_caller lists this many callers.
  static constexpr size_t kTopCallers = 10;

 private:
  // Past this many distinct User-Agents the rest are lumped together, so a
  // client that randomises its UA cannot grow memory without bound.
  static constexpr size_t kMaxUserAgents = 64;
  // Same for callers: far above any real fleet of characters and addresses.
  static constexpr size_t kMaxCallers = 1 << 20;
  static constexpr size_t kMaxViolators = 10000;

  mutable std::mutex mu_;
  uint64_t requests_ = 0;                                 // guarded by mu_
  uint64_t not_modified_ = 0;                             // guarded by mu_
  uint64_t errors_ = 0;                                   // guarded by mu_
  uint64_t without_user_agent_ = 0;                       // guarded by mu_
  std::map<std::string, uint64_t> by_route_;              // guarded by mu_
  std::map<int, uint64_t> by_status_;                     // guarded by mu_
  std::map<std::string, uint64_t> violations_;            // guarded by mu_
  std::map<std::string, uint64_t> faults_;                // guarded by mu_
  std::map<std::string, uint64_t> user_agents_;           // guarded by mu_
  std::map<std::string, uint64_t> user_agent_format_;     // guarded by mu_
  std::unordered_map<std::string, uint64_t> by_caller_;   // guarded by mu_
  std::map<std::string, uint64_t> violations_by_caller_;  // guarded by mu_
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_STATS_H_
