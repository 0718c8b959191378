// sluice-upstream-sim: serves a simulated ESI and PoE API until SIGTERM.
// Every flag can also be set through SIM_<FLAG_IN_CAPS>.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "common/env_flags.h"
#include "common/shutdown.h"
#include "sim/config.h"
#include "sim/simulator.h"

DEFINE_int32(port, 8090, "TCP port to listen on (0 picks a free one)");
DEFINE_string(bind, "0.0.0.0", "address to listen on");
DEFINE_int32(threads, 32, "HTTP worker threads (one per open connection)");

DEFINE_uint64(seed, 1, "seed for the universe and the fault RNG");
DEFINE_string(universe, "small",
              "universe preset: small (~40/200/1000) or full (3547/17769/93000)");
DEFINE_int32(alliances, 0, "override the preset's alliance count (0 keeps it)");
DEFINE_int32(corporations, 0, "override the preset's corporation count (0 keeps it)");
DEFINE_int32(characters, 0, "override the preset's character count (0 keeps it)");
DEFINE_int32(independent_corporations, 0,
             "extra corporations in no alliance, discoverable only through their characters");
DEFINE_string(auth_token, "sim-token", "bearer token accepted by authenticated ESI routes");
DEFINE_int64(auth_token_character_id, 90000001,
             "character --auth_token belongs to: its requests use the buckets of char:<id>");
DEFINE_string(metering, "per_caller",
              "per_caller: ESI buckets per (group, character or source address), error limit "
              "per address, PoE rules per their scope (as the upstreams bill); global: one "
              "shared bucket per group, one error limit, PoE rules per address");

DEFINE_int32(cache_list_seconds, 3600, "Expires lifetime of ESI id lists");
DEFINE_int32(cache_detail_seconds, 3600, "Expires lifetime of ESI entity details");
DEFINE_int32(cache_members_seconds, 3600, "Expires lifetime of corporation member lists");
DEFINE_int32(cache_killmail_recent_seconds, 300,
             "Expires lifetime of a character's recent killmail list (ESI: 5 minutes)");

DEFINE_int32(esi_error_limit, 100, "ESI errors allowed per error window before 420s");
DEFINE_int32(esi_error_window_seconds, 60, "ESI error window length");
DEFINE_string(esi_groups,
              "alliance=600/1m,corporation=600/1m,character=600/1m,contracts=600/1m,"
              "universe=600/1m,char-killmail=30/15m,killmail=3600/15m",
              "ESI rate-limit groups as name=tokens/window (s|m|h), each bucket per caller; "
              "a group left out is unlimited, and an empty value turns group limits off");
DEFINE_string(esi_killmail_body_group, "killmail",
              "rate-limit group of /killmails/{id}/{hash}/ (ESI's is killmail, 3600/15m); a "
              "group not in --esi_groups, or empty, leaves bodies in no group (error limit only)");
DEFINE_int32(esi_cost_2xx, 2, "tokens a 2xx costs");
DEFINE_int32(esi_cost_3xx, 1, "tokens a 3xx (304) costs");
DEFINE_int32(esi_cost_4xx, 5, "tokens a 4xx costs");
DEFINE_int32(esi_cost_5xx, 0, "tokens a 5xx costs");

DEFINE_string(poe_stash_rules, "Ip=45:60:120,180:1800:600",
              "public-stash-request-limit rules: Rule=hits:period:restriction,...;Rule2=...; "
              "empty = unlimited");
DEFINE_string(poe_exchange_rules, "Ip=45:60:120,180:1800:600",
              "currency-exchange-request-limit rules, same format; empty = unlimited");

DEFINE_double(fault_5xx_rate, 0, "share of requests answered 500/502/503/504");
DEFINE_double(fault_slow_rate, 0, "share of requests delayed by --fault_slow_ms");
DEFINE_int32(fault_slow_ms, 2000, "delay of a slow request");
DEFINE_double(fault_malformed_rate, 0, "share of 200s with a body that is not valid JSON");
DEFINE_double(fault_429_no_headers_rate, 0,
              "share of ESI group 429s sent without Retry-After and group headers");

DEFINE_string(sso_client_id, "sim-eve-client", "EVE SSO: the application's client id");
DEFINE_string(sso_client_secret, "sim-eve-secret", "EVE SSO: the application's secret key");
DEFINE_int32(sso_token_lifetime_s, 1200,
             "EVE SSO: access token lifetime (EVE's is 20 minutes; tests shorten it)");
DEFINE_string(poe_client_id, "sim-poe-client", "GGG OAuth: the client id");
DEFINE_string(poe_client_secret, "sim-poe-secret", "GGG OAuth: the client secret");
DEFINE_int32(poe_token_lifetime_s, 28 * 86400,
             "GGG OAuth: service token lifetime (GGG's docs: 28 days)");
DEFINE_bool(poe_require_token, false,
            "PoE routes demand a service token with their scope (401/403 otherwise), as GGG's do");

namespace {

std::vector<std::pair<std::string, std::string>> EnvNames() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* flag : {"port",
                           "bind",
                           "threads",
                           "seed",
                           "universe",
                           "alliances",
                           "corporations",
                           "characters",
                           "independent_corporations",
                           "auth_token",
                           "auth_token_character_id",
                           "metering",
                           "cache_list_seconds",
                           "cache_detail_seconds",
                           "cache_members_seconds",
                           "cache_killmail_recent_seconds",
                           "esi_error_limit",
                           "esi_error_window_seconds",
                           "esi_groups",
                           "esi_killmail_body_group",
                           "esi_cost_2xx",
                           "esi_cost_3xx",
                           "esi_cost_4xx",
                           "esi_cost_5xx",
                           "poe_stash_rules",
                           "poe_exchange_rules",
                           "fault_5xx_rate",
                           "fault_slow_rate",
                           "fault_slow_ms",
                           "fault_malformed_rate",
                           "fault_429_no_headers_rate",
                           "sso_client_id",
                           "sso_client_secret",
                           "sso_token_lifetime_s",
                           "poe_client_id",
                           "poe_client_secret",
                           "poe_token_lifetime_s",
                           "poe_require_token"}) {
    std::string env = std::string("SIM_") + flag;
    std::transform(env.begin(), env.end(), env.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    out.emplace_back(flag, env);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  sluice::InitProcess(&argc, &argv, "Simulated ESI and Path of Exile API for Sluice", EnvNames());
  using namespace sluice::sim;

  SimConfig config;
  config.bind_address = FLAGS_bind;
  config.threads = FLAGS_threads;
  if (FLAGS_universe == "small") {
    config.universe = SmallUniverse(FLAGS_seed);
  } else if (FLAGS_universe == "full") {
    config.universe = FullUniverse(FLAGS_seed);
  } else {
    LOG(ERROR) << "--universe must be small or full, not '" << FLAGS_universe << "'";
    return 2;
  }
  if (FLAGS_alliances > 0) config.universe.alliances = FLAGS_alliances;
  if (FLAGS_corporations > 0) config.universe.corporations = FLAGS_corporations;
  if (FLAGS_characters > 0) config.universe.characters = FLAGS_characters;
  config.universe.independent_corporations = FLAGS_independent_corporations;
  config.auth_token = FLAGS_auth_token;
  config.auth_token_character_id = FLAGS_auth_token_character_id;
  config.sso_client_id = FLAGS_sso_client_id;
  config.sso_client_secret = FLAGS_sso_client_secret;
  config.sso_token_lifetime_s = FLAGS_sso_token_lifetime_s;
  config.poe_client_id = FLAGS_poe_client_id;
  config.poe_client_secret = FLAGS_poe_client_secret;
  config.poe_token_lifetime_s = FLAGS_poe_token_lifetime_s;
  config.poe_require_token = FLAGS_poe_require_token;
  config.esi_killmail_body_group = FLAGS_esi_killmail_body_group;
  config.cache_list_seconds = FLAGS_cache_list_seconds;
  config.cache_detail_seconds = FLAGS_cache_detail_seconds;
  config.cache_members_seconds = FLAGS_cache_members_seconds;
  config.cache_killmail_recent_seconds = FLAGS_cache_killmail_recent_seconds;
  config.esi_error_limit = FLAGS_esi_error_limit;
  config.esi_error_window_seconds = FLAGS_esi_error_window_seconds;
  config.esi_costs = {FLAGS_esi_cost_2xx, FLAGS_esi_cost_3xx, FLAGS_esi_cost_4xx,
                      FLAGS_esi_cost_5xx};
  config.faults = {FLAGS_fault_5xx_rate, FLAGS_fault_slow_rate, FLAGS_fault_slow_ms,
                   FLAGS_fault_malformed_rate, FLAGS_fault_429_no_headers_rate};

  auto groups = ParseEsiGroups(FLAGS_esi_groups);
  auto stash_rules = ParsePoeRules(FLAGS_poe_stash_rules);
  auto exchange_rules = ParsePoeRules(FLAGS_poe_exchange_rules);
  auto metering = ParseMetering(FLAGS_metering);
  for (const absl::Status& s :
       {groups.status(), stash_rules.status(), exchange_rules.status(), metering.status()}) {
    if (!s.ok()) {
      LOG(ERROR) << s.message();
      return 2;
    }
  }
  config.esi_groups = *groups;
  config.poe_stash_rules = *stash_rules;
  config.poe_exchange_rules = *exchange_rules;
  config.metering = *metering;

  sluice::InstallShutdownHandlers();
  Simulator sim(config);
  absl::StatusOr<int> port = sim.Start(FLAGS_port);
  if (!port.ok()) {
    LOG(ERROR) << port.status();
    return absl::IsInvalidArgument(port.status()) ? 2 : 1;
  }
  sluice::WaitForShutdown();
  sim.Stop();
  return 0;
}
