// Simulator is the offline stand-in for EVE's ESI and Path of Exile's public
// API: a real HTTP server with the upstreams' paths, JSON shapes, caching
// headers, rate limits, penalties and faults, plus a /sim/* control surface
// for tests and the demo.
//
// Budgets are billed per caller, as the real upstreams bill (EsiMeter,
// PoeLimiter; SimConfig::metering = kGlobal keeps one shared budget). An ESI
// caller is "char:<id>" for a request with a known access token (--auth_token
// or one issued by POST /sim/tokens) and "ip:<remote address>" otherwise; the
// ESI error limit is per remote address.
//
// Every upstream request goes through one pipeline:
//   ESI: error limit of the address (420) -> the caller's group bucket (429)
//        -> faults -> route -> ETag/304 -> charge error budget and group
//        tokens -> headers: X-Ratelimit-* on a route in a configured group,
//        X-ESI-Error-Limit-* on any other (esi-docs: "mutually exclusive";
//        under kGlobal both, as before)
//   PoE: policy rules, each per its scope (429 + restriction) -> faults -> route
// Requests to /sim/* and /meta/openapi.json bypass limits, faults and stats.
//
// Control routes:
//   GET  /sim/stats         counters and limiter state (see Stats())
//   GET  /sim/buckets?caller=char:<id>|ip:<address>
//                           one caller's buckets in full (EsiMeter::BucketsJson)
//   POST /sim/reset_stats   zero the counters (limiter state is kept)
//   POST /sim/reset_limits  refill every budget and lift every restriction
//   GET  /sim/faults        current fault rates
//   POST /sim/faults        {"fault_5xx_rate": 0.1, ...}: change some rates
//   POST /sim/mutate        {"kind": "corporation", "id": 98000123[, "name": "..."]}
//   GET  /sim/universe      counts, id ranges and the seed
//   GET  /sim/healthz       "ok"
//   GET  /meta/openapi.json ESI's OpenAPI document with x-rate-limit (openapi.h)
//   POST /v2/oauth/token, POST /oauth/token, POST /sim/sso/*: EVE SSO's and
//                           GGG's token endpoints and their controls
//                           (oauth_server.h). An ESI request with an SSO
//                           access token that is expired or unknown is
//                           refused 403, one lacking the route's scope 403;
//                           with SimConfig::poe_require_token a PoE request
//                           without a valid service token 401, without the
//                           route's scope 403. Counted under "oauth" in stats.
//
// Ownership: the Clock is borrowed and must outlive the Simulator.
// Thread-safety: once Start() has returned, all public methods are safe to
// call concurrently with each other and with requests being served. Start()
// and Stop() themselves must not race each other or any other call.
#ifndef SLUICE_SIM_SIMULATOR_H_
#define SLUICE_SIM_SIMULATOR_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "sim/cache_etiquette.h"
#include "sim/config.h"
#include "sim/esi_module.h"
#include "sim/universe.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace sluice::sim {

class EsiMeter;
class EsiRoutes;
class FaultInjector;
class OAuthServer;
class PoeLimiter;
class PoeRoutes;
class StatsCollector;

class Simulator {
 public:
  explicit Simulator(SimConfig config, const Clock* clock = SystemClock::Get());
  ~Simulator();  // Stops the server if it is running.

  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Validates the config, generates the universe and starts serving on
  // config.bind_address:`port` (0 picks a free port). Returns the bound port.
  // Once only: a stopped Simulator is not restarted.
  absl::StatusOr<int> Start(int port);
  // Stops accepting, lets in-flight requests finish, and joins the server.
  void Stop();

  int port() const { return port_; }
  // "http://127.0.0.1:<port>", usable as an agent's upstream base URL.
  std::string base_url() const;

  // {
  //   "requests_total": 12, "requests_by_route": {"/alliances/": 1, ...},
  //   "requests_by_caller": {"callers": 2, "top": [{"caller": "ip:127.0.0.1",
  //                          "requests": 11}, {"caller": "char:90000001", ...}]},
  //   "responses_by_status": {"200": 10, "429": 2}, "not_modified": 0,
  //   "errors": 2, "requests_without_user_agent": 0, "user_agents": {"ua": 12},
  //   "violations": {"total": 1, "esi_group": 1, "esi_error_limit": 0,
  //                  "poe_restriction": 0, "poe_rule": 0,
  //                  "by_caller": {"ip:127.0.0.1": 1}},
  //   "etiquette": {"requests_before_expires": 0, "by_caller": {}, "by_route": {},
  //                 "tracked": 12, "untracked": 0}   (CacheEtiquette: ESI requests
  //                 that came before the Expires announced for that resource)
  //   "faults": {"5xx": 0, "slow": 0, "malformed": 0, "429_no_headers": 0},
  //   "fault_config": {"fault_5xx_rate": 0, ...},
  //   "metering": "per_caller",
  //   "esi": {"error_limit": {"budget": 100, "window_seconds": 60, "addresses": 1,
  //                           "limited_addresses": 0, "least_remaining": [
  //                           {"address": "ip:127.0.0.1", "remain": 98,
  //                            "reset_seconds": 41, "limited": false}]},
  //           "groups": {"alliance": {"limit": "600/1m", "callers": 1, "most_used": [
  //                      {"caller": "ip:127.0.0.1", "remaining": 590, "used": 10}]}}},
  //   "poe": {"public-stash-request-limit": {"rules": {"Ip": {"limit": "45:60:120",
  //           "scope": "Ip", "keys": 1, "clients": {"127.0.0.1": "3:60:0"}}}}},
  //   "universe": {"seed": 1, "alliances": {"count": 40, "first": ..., "last": ...}, ...}
  // }
  // Per-caller sections are bounded (top few callers plus a count), so the
  // answer stays small with 100,000 callers. Empty limiter sections before
  // Start().
  nlohmann::json Stats() const;
  void ResetStats();
  void ResetLimits();

  absl::Status SetFaults(const FaultConfig& faults);
  FaultConfig faults() const;

  // See Universe::Mutate. FailedPrecondition before Start().
  absl::Status Mutate(EntityKind kind, int64_t id, std::optional<std::string> name = std::nullopt);
  // Null before Start().
  const Universe* universe() const { return universe_.get(); }
  const SimConfig& config() const { return config_; }

 private:
  void Build();
  void RegisterRoutes();
  void HandleUpstream(const httplib::Request& req, httplib::Response& res);
  void HandleEsi(const httplib::Request& req, httplib::Response& res);
  void HandlePoe(const httplib::Request& req, httplib::Response& res);
  // "char:<id>" for a request carrying a known access token, else
  // "ip:<remote address>".
  std::string EsiCallerOf(const httplib::Request& req) const;
  PoeLimiter* FindPolicy(const std::string& policy) const;

  const SimConfig config_;
  const Clock* const clock_;

  // Built by Start(); immutable afterwards (the objects themselves are
  // internally synchronized).
  std::unique_ptr<Universe> universe_;
  std::unique_ptr<EsiRoutes> esi_;
  std::vector<std::unique_ptr<EsiModule>> esi_modules_;
  std::unique_ptr<PoeRoutes> poe_;
  std::unique_ptr<EsiMeter> meter_;
  std::map<std::string, std::unique_ptr<PoeLimiter>> policies_;
  std::unique_ptr<FaultInjector> faults_;
  std::unique_ptr<StatsCollector> stats_;
  std::unique_ptr<CacheEtiquette> etiquette_;
  std::unique_ptr<OAuthServer> oauth_;  // EVE SSO's and GGG's token endpoints
  std::map<std::string, std::string> route_scopes_;  // ESI route -> SSO scope it needs

  std::unique_ptr<httplib::Server> server_;
  std::thread server_thread_;
  std::atomic<bool> listen_returned_{false};
  std::atomic<int> port_{0};
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_SIMULATOR_H_
