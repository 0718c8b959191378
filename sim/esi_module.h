// EsiModule is a family of ESI routes served beside the core universe
// routes (alliances, corporations, characters): killmails
// (killmail_routes.h), public contracts and universe types
// (contract_routes.h). The Simulator still applies the error limit, the
// rate-limit group, faults and ETag/304 around whatever a module serves, so
// a module is only "which paths" and "what JSON".
//
// A module may add control endpoints under /sim/ (issue test tokens, add
// killmails, inject poison contracts) and a summary for /sim/stats, lists its
// routes for the OpenAPI document (/meta/openapi.json), and may know access
// tokens, so the Simulator can bill an authenticated request to the token's
// character as ESI does.
//
// Ownership: the Simulator owns its modules. Thread-safety: Match, Serve and
// control handlers run on many server threads at once; modules guard their
// own mutable state.
#ifndef SLUICE_SIM_ESI_MODULE_H_
#define SLUICE_SIM_ESI_MODULE_H_

#include <httplib.h>

#include <absl/strings/string_view.h>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "sim/config.h"
#include "sim/http_util.h"
#include "sim/universe.h"

namespace sluice::sim {

class EsiModule;

// What a module matched: filled by EsiModule::Match.
struct EsiModuleMatch {
  std::string route;  // template, e.g. "/killmails/{killmail_id}/{killmail_hash}/"
  std::string group;  // ESI rate-limit group (must be one of SimConfig::esi_groups or empty)
  std::vector<std::string> params;  // raw path parameters, validated by Serve
  int tag = 0;                      // which of the module's routes
};

// One route, as the OpenAPI document (openapi.h) describes it.
struct EsiRouteInfo {
  std::string route;  // template, as in EsiModuleMatch::route
  std::string group;  // rate-limit group; empty for routes in none
  std::string scope;  // SSO scope an authenticated route needs; empty if public
};

class EsiModule {
 public:
  virtual ~EsiModule() = default;
  // Every route Match can return, with the group it reports.
  virtual std::vector<EsiRouteInfo> Routes() const = 0;
  // The character a valid (known, unexpired) access token belongs to.
  virtual std::optional<int64_t> CharacterForToken(absl::string_view token) const {
    (void)token;
    return std::nullopt;
  }
  // `segments`: the path split on '/', version prefix already removed.
  // An access token the simulated EVE SSO issued (oauth_server.h): modules
  // that check tokens themselves accept it until `expires`.
  virtual void AcceptToken(const std::string& token, int64_t character_id, TimePoint expires) {
    (void)token;
    (void)character_id;
    (void)expires;
  }
  virtual bool Match(const std::vector<absl::string_view>& segments, EsiModuleMatch* m) const = 0;
  virtual Reply Serve(const EsiModuleMatch& m, const httplib::Request& request) const = 0;
  virtual void RegisterControl(httplib::Server& server) { (void)server; }
  virtual nlohmann::json Summary() const { return nlohmann::json::object(); }
};

// Every module (esi_modules.cc), over the generated universe.
std::vector<std::unique_ptr<EsiModule>> MakeEsiModules(const Universe* universe,
                                                       const SimConfig& config, const Clock* clock);

}  // namespace sluice::sim

#endif  // SLUICE_SIM_ESI_MODULE_H_
