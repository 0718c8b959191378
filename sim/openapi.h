// EsiOpenApi renders the simulator's ESI routes as the OpenAPI document real
// ESI publishes at https://esi.evetech.net/meta/openapi.json, served by the
// simulator at the same path (GET /meta/openapi.json), generated from its
// configuration so clients can learn groups and budgets before calling.
//
// Real ESI announces each rate-limited operation with the `x-rate-limit`
// extension: esi-docs "Rate Limiting", section "OpenAPI Specs extension"
// (https://developers.eveonline.com/docs/services/esi/rate-limiting/) names
// its three fields, `group`, `window-size` and `max-tokens`; real documents
// carry e.g. {"group": "char-killmail", "max-tokens": 30, "window-size": "15m"}
// (as read by neucore's GenerateEveApiFiles.php). Only operations whose group
// is configured carry it; the others are under the error limit only.
//
// Paths are written as real ESI writes them, without the trailing slash (the
// simulator answers both forms). Authenticated operations list their SSO
// scope under `security`.
//
// Thread-safety: a pure function.
#ifndef SLUICE_SIM_OPENAPI_H_
#define SLUICE_SIM_OPENAPI_H_

#include <vector>

#include <nlohmann/json.hpp>

#include "sim/config.h"
#include "sim/esi_module.h"

namespace sluice::sim {

// One operation (GET) per route; `groups` are the configured limits.
nlohmann::json EsiOpenApi(const std::vector<EsiRouteInfo>& routes,
                          const std::vector<EsiGroupLimit>& groups);

}  // namespace sluice::sim

#endif  // SLUICE_SIM_OPENAPI_H_
