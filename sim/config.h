// SimConfig holds every knob of the upstream simulator: universe size, ESI and
// PoE limits, how they are metered (per caller or globally), token costs and
// fault rates. The text formats used by flags ("alliance=600/1m",
// "Ip=45:60:120,180:1800:600", "per_caller") are parsed here so the binary
// and tests share one parser.
//
// Thread-safety: plain value types; copy them freely.
#ifndef SLUICE_SIM_CONFIG_H_
#define SLUICE_SIM_CONFIG_H_

#include <absl/strings/string_view.h>
#include <cstdint>
#include <string>
#include <vector>

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

namespace sluice::sim {

// Shape of the generated EVE universe. Ids are spread (consecutive known ids
// are at least 2 apart), so `known_id + 1` is always an unknown id.
struct UniverseConfig {
  uint64_t seed = 1;
  int alliances = 40;
  int corporations = 200;  // all members of some alliance
  int characters = 1000;   // spread over all corporations, at least one each
  // Extra corporations in no alliance: discoverable only through characters,
  // like the "missing corporations" of the daily workflow.
  int independent_corporations = 0;
};

// ~40 alliances, ~200 corporations, ~1,000 characters: fast for tests.
UniverseConfig SmallUniverse(uint64_t seed);
// The sizes the user's earlier system saw on the real ESI.
UniverseConfig FullUniverse(uint64_t seed);

// Tokens charged by ESI's floating-window limiter, by response class.
struct EsiCosts {
  int status_2xx = 2;
  int status_3xx = 1;
  int status_4xx = 5;
  int status_5xx = 0;
  int ForStatus(int status) const;
};

// One ESI rate-limit group, e.g. {"alliance", 600, 60}.
struct EsiGroupLimit {
  std::string name;
  int tokens = 0;
  int window_seconds = 0;
};

// One PoE tier: at most `hits` per `period_seconds`; exceeding it restricts the
// client for `restriction_seconds`.
struct PoeTier {
  int hits = 0;
  int period_seconds = 0;
  int restriction_seconds = 0;
};

// One PoE rule (header name part, e.g. "Ip") with its tiers, tightest first.
struct PoeRule {
  std::string name;
  std::vector<PoeTier> tiers;
};

// Faults that can be changed while the simulator runs (POST /sim/faults).
// Rates are probabilities in [0, 1] drawn per upstream request.
struct FaultConfig {
  double fault_5xx_rate = 0;
  double fault_slow_rate = 0;
  int fault_slow_ms = 2000;
  double fault_malformed_rate = 0;
  // Share of ESI group 429s sent without Retry-After and group headers.
  double fault_429_no_headers_rate = 0;
};

// Who pays for a request.
//   kPerCaller: as the real upstreams bill. ESI: one bucket per (rate-limit
//     group, caller), the caller being the character of a known access token
//     or else the source address; the error limit per source address. PoE:
//     each rule per its scope (Ip: address, Account: token, Client: client).
//   kGlobal: the simulator's original model, kept for comparisons: one bucket
//     per group and one error limit for everybody, every PoE rule per address,
//     and error-limit headers on every ESI route.
enum class Metering { kPerCaller, kGlobal };

// "per_caller" | "global".
absl::StatusOr<Metering> ParseMetering(absl::string_view text);
const char* MeteringName(Metering metering);

struct SimConfig {
  std::string bind_address = "127.0.0.1";
  int threads = 16;  // httplib worker threads; one per open connection
  UniverseConfig universe;
  std::string auth_token = "sim-token";
  // The character --auth_token belongs to (a corporation director reading
  // /corporations/{id}/members/): ESI bills an authenticated call to
  // <application>:<character>, so requests with this token use the buckets of
  // "char:<id>". 90000001 is a plausible EVE id below the generated universe's
  // ids (2112000000+), so it never shares buckets with a killmail token.
  int64_t auth_token_character_id = 90000001;
  Metering metering = Metering::kPerCaller;

  // Cache lifetimes that drive the Expires header.
  int cache_list_seconds = 3600;     // /alliances/, /alliances/{id}/corporations/
  int cache_detail_seconds = 3600;   // alliance/corporation/character details
  int cache_members_seconds = 3600;  // /corporations/{id}/members/
  // /characters/{id}/killmails/recent/: ESI caches it 5 minutes; tests that
  // re-read a list within seconds shorten it.
  int cache_killmail_recent_seconds = 300;

  int esi_error_limit = 100;
  int esi_error_window_seconds = 60;
  // char-killmail and killmail are ESI's own groups and limits for
  // /characters/{character_id}/killmails/recent/ (30 tokens / 15 min per
  // character) and /killmails/{killmail_id}/{killmail_hash}/ (3,600 tokens /
  // 15 min per address), from the x-rate-limit extensions of ESI's OpenAPI
  // document (https://esi.evetech.net/meta/openapi.json, as copied into
  // neucore's backend/config/esi-rate-limits.php, 2026-01). The others are
  // the simulator's own (see README): ESI serves those routes outside any
  // group, but a simulator whose groups bind is what tests the throttler.
  std::vector<EsiGroupLimit> esi_groups = {{"alliance", 600, 60},  {"corporation", 600, 60},
                                           {"character", 600, 60}, {"contracts", 600, 60},
                                           {"universe", 600, 60},  {"char-killmail", 30, 900},
                                           {"killmail", 3600, 900}};
  // Group of /killmails/{killmail_id}/{killmail_hash}/ (ESI's "killmail"). A
  // group missing from esi_groups, or an empty name, leaves bodies in no
  // group: the error limit only.
  std::string esi_killmail_body_group = "killmail";
  EsiCosts esi_costs;

  std::vector<PoeRule> poe_stash_rules = {{"Ip", {{45, 60, 120}, {180, 1800, 600}}}};
  std::vector<PoeRule> poe_exchange_rules = {{"Ip", {{45, 60, 120}, {180, 1800, 600}}}};

  FaultConfig faults;

  // The OAuth servers (oauth_server.h). EVE SSO: the application's client id
  // and secret, and the access token lifetime (EVE's is 20 minutes; tests
  // shorten it). GGG: the OAuth client, its service token lifetime (GGG's
  // docs: access tokens last 28 days), and whether the PoE routes demand a
  // service token (GGG's do: service:psapi for the public stash stream,
  // service:cxapi for the currency exchange; off by default so tests of
  // the limits alone need no client).
  std::string sso_client_id = "sim-eve-client";
  std::string sso_client_secret = "sim-eve-secret";
  int sso_token_lifetime_s = 1200;
  std::string poe_client_id = "sim-poe-client";
  std::string poe_client_secret = "sim-poe-secret";
  int poe_token_lifetime_s = 28 * 86400;
  bool poe_require_token = false;
};

// Validates ranges and cross-field constraints (e.g. characters >= corporations).
absl::Status ValidateConfig(const SimConfig& config);
absl::Status ValidateFaults(const FaultConfig& faults);

// "alliance=600/1m,corporation=150/15m". Empty text means no groups.
absl::StatusOr<std::vector<EsiGroupLimit>> ParseEsiGroups(absl::string_view text);
// "600/1m", as in the X-Ratelimit-Limit header (largest exact unit of s/m/h).
std::string FormatEsiLimit(const EsiGroupLimit& limit);
// "15m", as in the OpenAPI document's x-rate-limit "window-size".
std::string FormatEsiWindow(int window_seconds);

// "Ip=45:60:120,180:1800:600;Client=..." Empty text means no rules.
absl::StatusOr<std::vector<PoeRule>> ParsePoeRules(absl::string_view text);
// "45:60:120,180:1800:600", as in the X-Rate-Limit-<rule> header.
std::string FormatPoeTiers(const PoeRule& rule);

nlohmann::json FaultsToJson(const FaultConfig& faults);
// Applies the keys present in `json` on top of `base`; unknown keys and wrong
// types are errors so a typo in a test does not silently do nothing.
absl::StatusOr<FaultConfig> MergeFaultsJson(const nlohmann::json& json, FaultConfig base);

}  // namespace sluice::sim

#endif  // SLUICE_SIM_CONFIG_H_
