#include "sim/openapi.h"

#include <absl/strings/ascii.h>
#include <absl/strings/match.h>
#include <absl/strings/str_split.h>

#include <string>

namespace sluice::sim {
namespace {

// "/alliances/{alliance_id}/corporations/" -> "GetAlliancesAllianceIdCorporations".
std::string OperationId(const std::string& route) {
  std::string id = "Get";
  bool upper = true;
  for (char c : route) {
    if (c == '/' || c == '_' || c == '{' || c == '}') {
      upper = true;
    } else {
      id.push_back(upper ? absl::ascii_toupper(c) : c);
      upper = false;
    }
  }
  return id;
}

nlohmann::json PathParameters(const std::string& route) {
  nlohmann::json params = nlohmann::json::array();
  for (absl::string_view seg : absl::StrSplit(route, '/', absl::SkipEmpty())) {
    if (!absl::StartsWith(seg, "{") || !absl::EndsWith(seg, "}")) continue;
    std::string name(seg.substr(1, seg.size() - 2));
    nlohmann::json schema = name == "killmail_hash"
                                ? nlohmann::json{{"type", "string"}}
                                : nlohmann::json{{"type", "integer"}, {"format", "int64"}};
    params.push_back({{"name", name}, {"in", "path"}, {"required", true}, {"schema", schema}});
  }
  return params;
}

}  // namespace

nlohmann::json EsiOpenApi(const std::vector<EsiRouteInfo>& routes,
                          const std::vector<EsiGroupLimit>& groups) {
  nlohmann::json paths = nlohmann::json::object();
  nlohmann::json scopes = nlohmann::json::object();
  for (const EsiRouteInfo& r : routes) {
    std::string path = r.route;
    if (path.size() > 1 && path.back() == '/') path.pop_back();
    nlohmann::json op = {{"operationId", OperationId(path)},
                         {"parameters", PathParameters(path)},
                         {"responses", {{"200", {{"description", "OK"}}}}}};
    for (const EsiGroupLimit& g : groups) {
      if (g.name != r.group) continue;
      op["x-rate-limit"] = {{"group", g.name},
                            {"window-size", FormatEsiWindow(g.window_seconds)},
                            {"max-tokens", g.tokens}};
    }
    if (!r.scope.empty()) {
      scopes[r.scope] = r.scope;
      op["security"] = nlohmann::json::array({{{"OAuth2", nlohmann::json::array({r.scope})}}});
    }
    paths[path]["get"] = op;
  }
  return {{"openapi", "3.0.3"},
          {"info",
           {{"title", "EVE Stable Infrastructure (ESI), simulated by sluice-upstream-sim"},
            {"version", "sim"}}},
          {"paths", paths},
          {"components",
           {{"securitySchemes",
             {{"OAuth2",
               {{"type", "oauth2"},
                {"flows",
                 {{"authorizationCode",
                   {{"authorizationUrl", "https://login.eveonline.com/v2/oauth/authorize"},
                    {"tokenUrl", "https://login.eveonline.com/v2/oauth/token"},
                    {"scopes", scopes}}}}}}}}}}}};
}

}  // namespace sluice::sim
