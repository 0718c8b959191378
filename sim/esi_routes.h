// EsiRoutes maps ESI paths to route templates and rate-limit groups, renders
// the universe as ESI's JSON (same paths, field names and error bodies), and
// lists every route (its own and its modules') for the OpenAPI document. It
// knows nothing about limits, faults or caching headers; the Simulator applies
// those around it.
//
// Ownership: borrows the Universe, which must outlive it.
// Thread-safety: const and stateless apart from the Universe; safe to share.
#ifndef SLUICE_SIM_ESI_ROUTES_H_
#define SLUICE_SIM_ESI_ROUTES_H_

#include <absl/strings/string_view.h>
#include <string>
#include <vector>

#include <httplib.h>

#include "sim/config.h"
#include "sim/esi_module.h"
#include "sim/http_util.h"
#include "sim/universe.h"

namespace sluice::sim {

struct EsiMatch {
  enum class Kind {
    kUnknown,
    kAllianceList,
    kAlliance,
    kAllianceCorporations,
    kCorporation,
    kCorporationMembers,
    kCharacter,
    kModule,  // served by `module`
  };
  Kind kind = Kind::kUnknown;
  std::string route;  // template, e.g. "/alliances/{alliance_id}/"; "(unknown)"
  std::string group;  // ESI rate-limit group; empty for unknown routes
  std::string id;     // the raw path parameter, validated by Serve()
  const EsiModule* module = nullptr;
  EsiModuleMatch module_match;
};

class EsiRoutes {
 public:
  EsiRoutes(const Universe* universe, const SimConfig& config);

  // Routes served by `module` (borrowed; must outlive this) for paths the
  // core routes do not know.
  void AddModule(const EsiModule* module) { modules_.push_back(module); }

  // Strips ESI's version prefixes ("/latest", "/dev", "/legacy", "/v4").
  static absl::string_view StripVersion(absl::string_view path);
  // `path` has no query string and no version prefix. Trailing slash optional.
  EsiMatch Match(absl::string_view path) const;
  Reply Serve(const EsiMatch& match, const httplib::Request& request) const;
  // Every route served, core routes first, then the modules' (for the
  // OpenAPI document).
  std::vector<EsiRouteInfo> Routes() const;

 private:
  Reply Alliance(absl::string_view id) const;
  Reply AllianceCorporations(absl::string_view id) const;
  Reply Corporation(absl::string_view id) const;
  Reply CorporationMembers(absl::string_view id, const httplib::Request& request) const;
  Reply Character(absl::string_view id) const;

  const Universe* const universe_;
  std::vector<const EsiModule*> modules_;
  const std::string auth_header_;  // "Bearer <token>"
  const int cache_list_seconds_;
  const int cache_detail_seconds_;
  const int cache_members_seconds_;
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_ESI_ROUTES_H_
