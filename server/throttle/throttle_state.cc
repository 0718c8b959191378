#include "server/throttle/throttle_state.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace sluice::throttle {

using nlohmann::json;

// Field-by-field (de)serialisation. from_json throws json::exception on a
// missing or mistyped field; DecodeThrottleState turns that into a status.

void to_json(json& j, const LedgerBucketState& s) {
  j = json::array({s.first_resp, s.resp_hi, s.sent_lo, s.units});
}
void from_json(const json& j, LedgerBucketState& s) {
  s.first_resp = j.at(0).get<double>();
  s.resp_hi = j.at(1).get<double>();
  s.sent_lo = j.at(2).get<double>();
  s.units = j.at(3).get<int64_t>();
}

void to_json(json& j, const PhantomStepState& s) { j = json::array({s.until, s.amount}); }
void from_json(const json& j, PhantomStepState& s) {
  s.until = j.at(0).get<double>();
  s.amount = j.at(1).get<int64_t>();
}

void to_json(json& j, const ErrorTimingState& s) { j = json::array({s.sent_lo, s.resp_hi}); }
void from_json(const json& j, ErrorTimingState& s) {
  s.sent_lo = j.at(0).get<double>();
  s.resp_hi = j.at(1).get<double>();
}

void to_json(json& j, const BudgetState& s) {
  j = json{{"name", s.name},
           {"family", s.family},
           {"scope", s.scope},
           {"written_at", s.written_at},
           {"kind", s.kind},
           {"learned", s.learned},
           {"observed", s.observed},
           {"limit", s.limit},
           {"period_s", s.period_seconds},
           {"penalty_s", s.penalty_seconds},
           {"ledger", s.ledger},
           {"phantom", s.phantom},
           {"remain", s.remain},
           {"probing", s.probing},
           {"recent_errors", s.recent_errors},
           {"in_flight_units", s.in_flight_units},
           {"in_flight_calls", s.in_flight_calls},
           {"in_flight_resp_hi", s.in_flight_resp_hi},
           {"restricted_until", s.restricted_until},
           {"restriction_level", s.restriction_level},
           {"restriction_reason", s.restriction_reason},
           {"granted", s.granted},
           {"denied", s.denied},
           {"waits", s.waits},
           {"restrictions", s.restrictions}};
  if (s.window_end) j["window_end"] = *s.window_end;
  if (!s.restricted_by.empty()) {
    j["restricted_by"] = s.restricted_by;
    j["restriction_capped"] = s.restriction_capped;
  }
  if (!s.restriction_cleared_by.empty()) {
    j["restriction_cleared_by"] = s.restriction_cleared_by;
    j["restriction_cleared_at"] = s.restriction_cleared_at;
  }
  if (s.allowance) {
    j["allowance"] = *s.allowance;
    j["allowance_answer_s"] = s.allowance_answer_s;
  }
  if (!s.external_phantom.empty()) j["external_phantom"] = s.external_phantom;
  if (s.external_remain) {
    j["external_remain"] = *s.external_remain;
    j["external_until"] = s.external_until;
  }
  if (!s.tightened_by.empty()) {
    j["tightened_by"] = s.tightened_by;
    j["tightened_until"] = s.tightened_until;
  }
}
void from_json(const json& j, BudgetState& s) {
  j.at("name").get_to(s.name);
  s.family = j.value("family", std::string());
  s.scope = j.value("scope", std::string());
  s.written_at = j.value("written_at", 0.0);
  j.at("kind").get_to(s.kind);
  j.at("learned").get_to(s.learned);
  j.at("observed").get_to(s.observed);
  j.at("limit").get_to(s.limit);
  j.at("period_s").get_to(s.period_seconds);
  s.penalty_seconds = j.value("penalty_s", 0.0);
  j.at("ledger").get_to(s.ledger);
  j.at("phantom").get_to(s.phantom);
  j.at("remain").get_to(s.remain);
  j.at("probing").get_to(s.probing);
  j.at("recent_errors").get_to(s.recent_errors);
  j.at("in_flight_units").get_to(s.in_flight_units);
  j.at("in_flight_calls").get_to(s.in_flight_calls);
  j.at("in_flight_resp_hi").get_to(s.in_flight_resp_hi);
  j.at("restricted_until").get_to(s.restricted_until);
  j.at("restriction_level").get_to(s.restriction_level);
  s.restriction_reason = j.value("restriction_reason", std::string());
  s.granted = j.value("granted", int64_t{0});
  s.denied = j.value("denied", int64_t{0});
  s.waits = j.value("waits", int64_t{0});
  s.restrictions = j.value("restrictions", int64_t{0});
  if (j.contains("window_end")) s.window_end = j.at("window_end").get<double>();
  s.restricted_by = j.value("restricted_by", std::string());
  s.restriction_capped = j.value("restriction_capped", false);
  s.restriction_cleared_by = j.value("restriction_cleared_by", std::string());
  s.restriction_cleared_at = j.value("restriction_cleared_at", 0.0);
  if (j.contains("allowance")) {
    s.allowance = j.at("allowance").get<int64_t>();
    j.at("allowance_answer_s").get_to(s.allowance_answer_s);
  }
  if (j.contains("external_phantom")) j.at("external_phantom").get_to(s.external_phantom);
  if (j.contains("external_remain")) {
    s.external_remain = j.at("external_remain").get<int64_t>();
    s.external_until = j.value("external_until", 0.0);
  }
  s.tightened_by = j.value("tightened_by", std::string());
  s.tightened_until = j.value("tightened_until", 0.0);
}

void to_json(json& j, const PoeTierShapeState& s) {
  j = json::array({s.hits, s.period_seconds, s.penalty_seconds});
}
void from_json(const json& j, PoeTierShapeState& s) {
  s.hits = j.at(0).get<int64_t>();
  s.period_seconds = j.at(1).get<double>();
  s.penalty_seconds = j.at(2).get<double>();
}

void to_json(json& j, const PoeRuleShapeState& s) {
  j = json{{"name", s.name}, {"tiers", s.tiers}};
}
void from_json(const json& j, PoeRuleShapeState& s) {
  j.at("name").get_to(s.name);
  j.at("tiers").get_to(s.tiers);
}

void to_json(json& j, const PoePolicyState& s) { j = json{{"name", s.name}, {"rules", s.rules}}; }
void from_json(const json& j, PoePolicyState& s) {
  j.at("name").get_to(s.name);
  j.at("rules").get_to(s.rules);
}

void to_json(json& j, const EsiGroupState& s) {
  j = json{{"name", s.name}, {"limit", s.limit}, {"period_s", s.period_seconds}};
}
void from_json(const json& j, EsiGroupState& s) {
  j.at("name").get_to(s.name);
  j.at("limit").get_to(s.limit);
  j.at("period_s").get_to(s.period_seconds);
}

void to_json(json& j, const RouteMappingState& s) { j = json::array({s.route, s.target}); }
void from_json(const json& j, RouteMappingState& s) {
  s.route = j.at(0).get<std::string>();
  s.target = j.at(1).get<std::string>();
}

void to_json(json& j, const FamilyState& s) {
  j = json::array(
      {s.name, s.kind, s.granted, s.denied, s.waits, s.restrictions, s.longest_announced_seconds});
}
void from_json(const json& j, FamilyState& s) {
  s.name = j.at(0).get<std::string>();
  s.kind = j.at(1).get<std::string>();
  s.granted = j.at(2).get<int64_t>();
  s.denied = j.at(3).get<int64_t>();
  s.waits = j.at(4).get<int64_t>();
  s.restrictions = j.at(5).get<int64_t>();
  s.longest_announced_seconds = j.size() > 6 ? j.at(6).get<double>() : 0.0;
}

namespace {

void MapToJson(const RouteMapState& m, json& j) {
  j["esi_routes"] = m.esi_routes;
  j["esi_groups"] = m.esi_groups;
  j["poe_routes"] = m.poe_routes;
  j["poe_policies"] = m.poe_policies;
  j["families"] = m.families;
}

void MapFromJson(const json& j, RouteMapState& m) {
  j.at("esi_routes").get_to(m.esi_routes);
  j.at("esi_groups").get_to(m.esi_groups);
  j.at("poe_routes").get_to(m.poe_routes);
  j.at("poe_policies").get_to(m.poe_policies);
  if (j.contains("families")) j.at("families").get_to(m.families);
}

absl::StatusOr<json> ParseObject(absl::string_view text, absl::string_view what) {
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is not a JSON object"));
  }
  return j;
}

}  // namespace

std::string EncodeThrottleState(const ThrottleSnapshot& s) {
  json j{{"version", s.version},
         {"written_at", s.written_at},
         {"clean_shutdown", s.clean_shutdown},
         {"budgets", s.budgets}};
  MapToJson(s.map, j);
  return j.dump();
}

std::string EncodeBudgetState(const BudgetState& state) { return json(state).dump(); }

absl::StatusOr<BudgetState> DecodeBudgetState(absl::string_view text) {
  absl::StatusOr<json> j = ParseObject(text, "throttle budget state");
  if (!j.ok()) return j.status();
  try {
    return j->get<BudgetState>();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("throttle budget state: ", e.what()));
  }
}

std::string EncodeRouteMapState(const RouteMapState& state) {
  json j = json::object();
  MapToJson(state, j);
  return j.dump();
}

absl::StatusOr<RouteMapState> DecodeRouteMapState(absl::string_view text) {
  absl::StatusOr<json> j = ParseObject(text, "throttle route map");
  if (!j.ok()) return j.status();
  try {
    RouteMapState m;
    MapFromJson(*j, m);
    return m;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("throttle route map: ", e.what()));
  }
}

std::string EncodeThrottleMeta(const ThrottleMeta& meta) {
  json j{{"version", 2},
         {"written_at", meta.written_at},
         {"clean_shutdown", meta.clean_shutdown},
         {"incarnation", meta.incarnation}};
  if (meta.error_limit_holders) j["error_limit_holders"] = *meta.error_limit_holders;
  return j.dump();
}

absl::StatusOr<ThrottleMeta> DecodeThrottleMeta(absl::string_view text) {
  absl::StatusOr<json> j = ParseObject(text, "throttle meta");
  if (!j.ok()) return j.status();
  try {
    if (j->at("version").get<int>() != 2) {
      return absl::FailedPreconditionError("throttle meta: version is not 2");
    }
    ThrottleMeta m;
    m.written_at = j->at("written_at").get<double>();
    m.clean_shutdown = j->at("clean_shutdown").get<bool>();
    // Rows of older writers have neither: incarnation 0, holders unknown.
    if (j->contains("incarnation")) m.incarnation = j->at("incarnation").get<uint64_t>();
    if (j->contains("error_limit_holders")) {
      m.error_limit_holders = j->at("error_limit_holders").get<std::vector<std::string>>();
    }
    return m;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("throttle meta: ", e.what()));
  }
}

absl::StatusOr<ThrottleSnapshot> DecodeThrottleState(absl::string_view text) {
  absl::StatusOr<json> parsed = ParseObject(text, "throttle state");
  if (!parsed.ok()) return parsed.status();
  const json& j = *parsed;
  try {
    ThrottleSnapshot s;
    j.at("version").get_to(s.version);
    if (s.version != kThrottleStateVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat("throttle state version ", s.version, " is not ", kThrottleStateVersion));
    }
    j.at("written_at").get_to(s.written_at);
    j.at("clean_shutdown").get_to(s.clean_shutdown);
    j.at("budgets").get_to(s.budgets);
    MapFromJson(j, s.map);
    return s;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("throttle state: ", e.what()));
  }
}

}  // namespace sluice::throttle
