#include "sim/config.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_join.h>
#include <absl/strings/str_split.h>
#include <absl/strings/strip.h>

namespace sluice::sim {
namespace {

absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

bool ParsePositive(absl::string_view text, int* out) {
  return absl::SimpleAtoi(text, out) && *out > 0;
}

// "1m" -> 60. A bare number means seconds.
bool ParseWindow(absl::string_view text, int* seconds) {
  if (text.empty()) return false;
  int scale = 1;
  switch (text.back()) {
    case 's':
      scale = 1;
      text.remove_suffix(1);
      break;
    case 'm':
      scale = 60;
      text.remove_suffix(1);
      break;
    case 'h':
      scale = 3600;
      text.remove_suffix(1);
      break;
    default:
      break;
  }
  int n = 0;
  if (!ParsePositive(text, &n) || n > 86400 * 7) return false;
  *seconds = n * scale;
  return true;
}

bool ValidRate(double r) { return r >= 0.0 && r <= 1.0; }

}  // namespace

UniverseConfig SmallUniverse(uint64_t seed) {
  UniverseConfig u;
  u.seed = seed;
  return u;
}

UniverseConfig FullUniverse(uint64_t seed) {
  UniverseConfig u;
  u.seed = seed;
  u.alliances = 3547;
  u.corporations = 17769;
  u.characters = 93000;
  return u;
}

int EsiCosts::ForStatus(int status) const {
  if (status >= 500) return status_5xx;
  if (status >= 400) return status_4xx;
  if (status >= 300) return status_3xx;
  return status_2xx;
}

absl::Status ValidateFaults(const FaultConfig& f) {
  if (!ValidRate(f.fault_5xx_rate) || !ValidRate(f.fault_slow_rate) ||
      !ValidRate(f.fault_malformed_rate) || !ValidRate(f.fault_429_no_headers_rate)) {
    return Invalid("fault rates must be within [0, 1]");
  }
  if (f.fault_slow_ms < 0 || f.fault_slow_ms > 600000) {
    return Invalid("fault_slow_ms must be within [0, 600000]");
  }
  return absl::OkStatus();
}

absl::Status ValidateConfig(const SimConfig& c) {
  const UniverseConfig& u = c.universe;
  if (u.alliances < 1 || u.alliances > 1000000) return Invalid("alliances must be in [1, 1e6]");
  if (u.corporations < u.alliances) {
    return Invalid("corporations must be >= alliances (every alliance has a corporation)");
  }
  if (u.independent_corporations < 0) return Invalid("independent_corporations must be >= 0");
  if (u.corporations + u.independent_corporations > 5000000) {
    return Invalid("too many corporations (max 5e6)");
  }
  if (u.characters < u.corporations + u.independent_corporations) {
    return Invalid("characters must be >= corporations (every corporation has a member)");
  }
  // Character ids must stay below 2^31 like ESI's int32 ids.
  if (u.characters > 1500000) return Invalid("characters must be <= 1.5e6");
  if (c.threads < 1 || c.threads > 1024) return Invalid("threads must be in [1, 1024]");
  if (c.auth_token.empty()) return Invalid("auth_token must not be empty");
  if (c.auth_token_character_id < 1 || c.auth_token_character_id > 2147483647) {
    return Invalid("auth_token_character_id must be a positive int32 (an EVE character id)");
  }
  if (c.cache_list_seconds < 0 || c.cache_detail_seconds < 0 || c.cache_members_seconds < 0) {
    return Invalid("cache times must be >= 0");
  }
  if (c.esi_error_limit < 1) return Invalid("esi_error_limit must be >= 1");
  if (c.esi_error_window_seconds < 1) return Invalid("esi_error_window_seconds must be >= 1");
  const EsiCosts& k = c.esi_costs;
  if (k.status_2xx < 1 || k.status_3xx < 0 || k.status_4xx < 0 || k.status_5xx < 0) {
    return Invalid("ESI costs must be >= 0 (and the 2xx cost >= 1)");
  }
  for (const auto& g : c.esi_groups) {
    if (g.name.empty() || g.tokens < 1 || g.window_seconds < 1) {
      return Invalid(absl::StrCat("bad ESI group '", g.name, "'"));
    }
  }
  for (const auto* rules : {&c.poe_stash_rules, &c.poe_exchange_rules}) {
    for (const auto& r : *rules) {
      if (r.name.empty() || r.tiers.empty()) return Invalid("PoE rule needs a name and tiers");
      for (const auto& t : r.tiers) {
        if (t.hits < 1 || t.period_seconds < 1 || t.restriction_seconds < 0) {
          return Invalid(absl::StrCat("bad PoE tier in rule ", r.name));
        }
      }
    }
  }
  if (c.cache_killmail_recent_seconds < 0) {
    return Invalid("cache_killmail_recent_seconds must not be negative");
  }
  if (c.sso_token_lifetime_s < 1 || c.poe_token_lifetime_s < 1) {
    return Invalid("sso_token_lifetime_s and poe_token_lifetime_s must be positive");
  }
  if (c.sso_client_id.empty() || c.sso_client_secret.empty() || c.poe_client_id.empty() ||
      c.poe_client_secret.empty()) {
    return Invalid("the OAuth client ids and secrets must not be empty");
  }
  return ValidateFaults(c.faults);
}

absl::StatusOr<std::vector<EsiGroupLimit>> ParseEsiGroups(absl::string_view text) {
  std::vector<EsiGroupLimit> out;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    std::vector<absl::string_view> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) {
      return Invalid(absl::StrCat("ESI group '", item, "' is not name=tokens/window"));
    }
    std::vector<absl::string_view> tw = absl::StrSplit(kv[1], absl::MaxSplits('/', 1));
    EsiGroupLimit g;
    g.name = std::string(kv[0]);
    if (tw.size() != 2 || !ParsePositive(tw[0], &g.tokens) ||
        !ParseWindow(tw[1], &g.window_seconds)) {
      return Invalid(absl::StrCat("ESI group '", item, "': want e.g. alliance=600/1m"));
    }
    for (const auto& other : out) {
      if (other.name == g.name) return Invalid(absl::StrCat("ESI group ", g.name, " repeated"));
    }
    out.push_back(std::move(g));
  }
  return out;
}

std::string FormatEsiWindow(int w) {
  if (w % 3600 == 0) return absl::StrCat(w / 3600, "h");
  if (w % 60 == 0) return absl::StrCat(w / 60, "m");
  return absl::StrCat(w, "s");
}

std::string FormatEsiLimit(const EsiGroupLimit& limit) {
  return absl::StrCat(limit.tokens, "/", FormatEsiWindow(limit.window_seconds));
}

absl::StatusOr<Metering> ParseMetering(absl::string_view text) {
  if (text == "per_caller") return Metering::kPerCaller;
  if (text == "global") return Metering::kGlobal;
  return Invalid(absl::StrCat("metering must be per_caller or global, not '", text, "'"));
}

const char* MeteringName(Metering metering) {
  return metering == Metering::kGlobal ? "global" : "per_caller";
}

absl::StatusOr<std::vector<PoeRule>> ParsePoeRules(absl::string_view text) {
  std::vector<PoeRule> out;
  for (absl::string_view item : absl::StrSplit(text, ';', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    std::vector<absl::string_view> kv = absl::StrSplit(item, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) {
      return Invalid(absl::StrCat("PoE rule '", item, "' is not Name=hits:period:restrict,..."));
    }
    PoeRule rule;
    rule.name = std::string(kv[0]);
    for (char ch : rule.name) {
      if (!isalnum(static_cast<unsigned char>(ch))) {
        return Invalid(absl::StrCat("PoE rule name '", rule.name, "' must be alphanumeric"));
      }
    }
    for (absl::string_view tier_text : absl::StrSplit(kv[1], ',')) {
      std::vector<absl::string_view> parts = absl::StrSplit(tier_text, ':');
      PoeTier t;
      if (parts.size() != 3 || !ParsePositive(parts[0], &t.hits) ||
          !ParsePositive(parts[1], &t.period_seconds) ||
          !absl::SimpleAtoi(parts[2], &t.restriction_seconds) || t.restriction_seconds < 0) {
        return Invalid(absl::StrCat("PoE tier '", tier_text, "' in rule ", rule.name,
                                    ": want hits:period_seconds:restriction_seconds"));
      }
      rule.tiers.push_back(t);
    }
    out.push_back(std::move(rule));
  }
  return out;
}

std::string FormatPoeTiers(const PoeRule& rule) {
  return absl::StrJoin(rule.tiers, ",", [](std::string* s, const PoeTier& t) {
    absl::StrAppend(s, t.hits, ":", t.period_seconds, ":", t.restriction_seconds);
  });
}

nlohmann::json FaultsToJson(const FaultConfig& f) {
  return {{"fault_5xx_rate", f.fault_5xx_rate},
          {"fault_slow_rate", f.fault_slow_rate},
          {"fault_slow_ms", f.fault_slow_ms},
          {"fault_malformed_rate", f.fault_malformed_rate},
          {"fault_429_no_headers_rate", f.fault_429_no_headers_rate}};
}

absl::StatusOr<FaultConfig> MergeFaultsJson(const nlohmann::json& json, FaultConfig base) {
  if (!json.is_object()) return Invalid("faults must be a JSON object");
  for (const auto& [key, value] : json.items()) {
    double* rate = nullptr;
    if (key == "fault_5xx_rate")
      rate = &base.fault_5xx_rate;
    else if (key == "fault_slow_rate")
      rate = &base.fault_slow_rate;
    else if (key == "fault_malformed_rate")
      rate = &base.fault_malformed_rate;
    else if (key == "fault_429_no_headers_rate")
      rate = &base.fault_429_no_headers_rate;
    if (rate != nullptr) {
      if (!value.is_number()) return Invalid(absl::StrCat(key, " must be a number"));
      *rate = value.get<double>();
    } else if (key == "fault_slow_ms") {
      if (!value.is_number_integer()) return Invalid("fault_slow_ms must be an integer");
      int64_t ms = value.get<int64_t>();
      if (ms < 0 || ms > 600000) return Invalid("fault_slow_ms must be within [0, 600000]");
      base.fault_slow_ms = static_cast<int>(ms);
    } else {
      return Invalid(absl::StrCat("unknown fault '", key, "'"));
    }
  }
  absl::Status s = ValidateFaults(base);
  if (!s.ok()) return s;
  return base;
}

}  // namespace sluice::sim
