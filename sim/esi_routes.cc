#include "sim/esi_routes.h"

#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>
#include <nlohmann/json.hpp>

#include <vector>

namespace sluice::sim {
namespace {

using Kind = EsiMatch::Kind;
using nlohmann::json;

Reply Json(const json& body, int cache_seconds, TimePoint last_modified) {
  return Reply{200, body.dump(), true, cache_seconds, last_modified};
}

Reply Error(int status, absl::string_view message) {
  return Reply{status, EsiError(message), false, 0, {}};
}

// ESI's ids are int32; its validator answers 400 with this wording.
std::optional<int64_t> ValidId(absl::string_view text, Reply* error) {
  std::optional<int64_t> id = ParseId(text);
  if (!id || *id > 2147483647) {
    *error = Error(
        400, absl::StrCat("failed to coerce value '", text, "' into type integer (format: int32)"));
    return std::nullopt;
  }
  return id;
}

}  // namespace

EsiRoutes::EsiRoutes(const Universe* universe, const SimConfig& config)
    : universe_(universe),
      auth_header_(absl::StrCat("Bearer ", config.auth_token)),
      cache_list_seconds_(config.cache_list_seconds),
      cache_detail_seconds_(config.cache_detail_seconds),
      cache_members_seconds_(config.cache_members_seconds) {}

absl::string_view EsiRoutes::StripVersion(absl::string_view path) {
  for (absl::string_view prefix : {"/latest", "/dev", "/legacy"}) {
    if (absl::StartsWith(path, prefix) &&
        (path.size() == prefix.size() || path[prefix.size()] == '/')) {
      return path.substr(prefix.size());
    }
  }
  if (absl::StartsWith(path, "/v")) {
    size_t i = 2;
    while (i < path.size() && absl::ascii_isdigit(path[i])) ++i;
    if (i > 2 && (i == path.size() || path[i] == '/')) return path.substr(i);
  }
  return path;
}

EsiMatch EsiRoutes::Match(absl::string_view path) const {
  std::vector<absl::string_view> seg = absl::StrSplit(path, '/', absl::SkipEmpty());
  EsiMatch m;
  m.route = "(unknown)";
  if (seg.empty()) return m;
  auto set = [&](Kind kind, const char* route, const char* group) {
    m.kind = kind;
    m.route = route;
    m.group = group;
    if (seg.size() > 1) m.id = std::string(seg[1]);
  };
  if (seg[0] == "alliances") {
    if (seg.size() == 1)
      set(Kind::kAllianceList, "/alliances/", "alliance");
    else if (seg.size() == 2)
      set(Kind::kAlliance, "/alliances/{alliance_id}/", "alliance");
    else if (seg.size() == 3 && seg[2] == "corporations") {
      set(Kind::kAllianceCorporations, "/alliances/{alliance_id}/corporations/", "alliance");
    }
  } else if (seg[0] == "corporations") {
    if (seg.size() == 2) {
      set(Kind::kCorporation, "/corporations/{corporation_id}/", "corporation");
    } else if (seg.size() == 3 && seg[2] == "members") {
      set(Kind::kCorporationMembers, "/corporations/{corporation_id}/members/", "corporation");
    }
  } else if (seg[0] == "characters") {
    if (seg.size() == 2) set(Kind::kCharacter, "/characters/{character_id}/", "character");
  }
  if (m.kind != Kind::kUnknown) return m;
  for (const EsiModule* module : modules_) {
    EsiModuleMatch mm;
    if (module->Match(seg, &mm)) {
      m.kind = Kind::kModule;
      m.route = mm.route;
      m.group = mm.group;
      m.module = module;
      m.module_match = std::move(mm);
      break;
    }
  }
  return m;
}

std::vector<EsiRouteInfo> EsiRoutes::Routes() const {
  // Must agree with Match() above.
  std::vector<EsiRouteInfo> out = {{"/alliances/", "alliance", ""},
                                   {"/alliances/{alliance_id}/", "alliance", ""},
                                   {"/alliances/{alliance_id}/corporations/", "alliance", ""},
                                   {"/corporations/{corporation_id}/", "corporation", ""},
                                   {"/corporations/{corporation_id}/members/", "corporation",
                                    "esi-corporations.read_corporation_membership.v1"},
                                   {"/characters/{character_id}/", "character", ""}};
  for (const EsiModule* module : modules_) {
    for (EsiRouteInfo& r : module->Routes()) out.push_back(std::move(r));
  }
  return out;
}

Reply EsiRoutes::Serve(const EsiMatch& m, const httplib::Request& request) const {
  switch (m.kind) {
    case Kind::kAllianceList:
      return Json(universe_->AllianceIds(), cache_list_seconds_, universe_->generated_at());
    case Kind::kAlliance:
      return Alliance(m.id);
    case Kind::kAllianceCorporations:
      return AllianceCorporations(m.id);
    case Kind::kCorporation:
      return Corporation(m.id);
    case Kind::kCorporationMembers:
      return CorporationMembers(m.id, request);
    case Kind::kCharacter:
      return Character(m.id);
    case Kind::kModule:
      return m.module->Serve(m.module_match, request);
    case Kind::kUnknown:
      break;
  }
  return Error(404, "Not found");
}

Reply EsiRoutes::Alliance(absl::string_view id_text) const {
  Reply error;
  std::optional<int64_t> id = ValidId(id_text, &error);
  if (!id) return error;
  std::optional<AllianceInfo> a = universe_->FindAlliance(*id);
  if (!a) return Error(404, "Alliance not found");
  json body = {{"name", a->name},
               {"ticker", a->ticker},
               {"creator_id", a->creator_id},
               {"creator_corporation_id", a->creator_corporation_id},
               {"executor_corporation_id", a->executor_corporation_id},
               {"date_founded", IsoDate(a->date_founded)}};
  if (a->faction_id != 0) body["faction_id"] = a->faction_id;
  return Json(body, cache_detail_seconds_, a->last_modified);
}

Reply EsiRoutes::AllianceCorporations(absl::string_view id_text) const {
  Reply error;
  std::optional<int64_t> id = ValidId(id_text, &error);
  if (!id) return error;
  std::optional<std::vector<int64_t>> corps = universe_->AllianceCorporations(*id);
  if (!corps) return Error(404, "Alliance not found");
  return Json(*corps, cache_list_seconds_, universe_->generated_at());
}

Reply EsiRoutes::Corporation(absl::string_view id_text) const {
  Reply error;
  std::optional<int64_t> id = ValidId(id_text, &error);
  if (!id) return error;
  std::optional<CorporationInfo> c = universe_->FindCorporation(*id);
  if (!c) return Error(404, "Corporation not found");
  json body = {{"name", c->name},
               {"ticker", c->ticker},
               {"member_count", c->member_count},
               {"ceo_id", c->ceo_id},
               {"creator_id", c->creator_id},
               {"tax_rate", c->tax_rate},
               {"date_founded", IsoDate(c->date_founded)},
               {"description", c->description},
               {"url", c->url}};
  if (c->alliance_id != 0) body["alliance_id"] = c->alliance_id;
  if (c->faction_id != 0) body["faction_id"] = c->faction_id;
  return Json(body, cache_detail_seconds_, c->last_modified);
}

Reply EsiRoutes::CorporationMembers(absl::string_view id_text,
                                    const httplib::Request& request) const {
  // Authentication comes first, as on ESI: an anonymous caller learns nothing,
  // not even whether the corporation exists.
  if (request.get_header_value("Authorization") != auth_header_) {
    return Error(401, "authentication failure");
  }
  Reply error;
  std::optional<int64_t> id = ValidId(id_text, &error);
  if (!id) return error;
  std::optional<std::vector<int64_t>> members = universe_->CorporationMembers(*id);
  if (!members) return Error(404, "Corporation not found");
  return Json(*members, cache_members_seconds_, universe_->generated_at());
}

Reply EsiRoutes::Character(absl::string_view id_text) const {
  Reply error;
  std::optional<int64_t> id = ValidId(id_text, &error);
  if (!id) return error;
  std::optional<CharacterInfo> c = universe_->FindCharacter(*id);
  if (!c) return Error(404, "Character not found");
  json body = {{"name", c->name},
               {"birthday", IsoDate(c->birthday)},
               {"gender", c->gender},
               {"race_id", c->race_id},
               {"bloodline_id", c->bloodline_id},
               {"corporation_id", c->corporation_id},
               {"security_status", c->security_status},
               {"description", c->description}};
  if (c->alliance_id != 0) body["alliance_id"] = c->alliance_id;
  return Json(body, cache_detail_seconds_, c->last_modified);
}

}  // namespace sluice::sim
