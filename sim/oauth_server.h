// OAuthServer is the simulator's stand-in for the two OAuth servers Sluice
// meets: EVE SSO's token endpoint and GGG's. It follows their published
// rules:
//
//   POST /v2/oauth/token  (EVE SSO; esi-docs: docs/services/sso/index.md,
//       SSO/refreshing_access_tokens.md)
//       client authentication: HTTP Basic client_id:secret, else 401
//       invalid_client; form grant_type=authorization_code&code=... or
//       grant_type=refresh_token&refresh_token=...; answers
//       {access_token, expires_in, token_type: "Bearer", refresh_token}. The
//       access token is a JWT whose payload carries EVE's claims: sub
//       "CHARACTER:EVE:<id>", scp (a string for one scope, an array for
//       more), exp, iat, iss, azp, aud, name, owner, kid, tier, tenant,
//       region. Lifetime SimConfig::sso_token_lifetime_s (EVE: 20 minutes).
//       A refresh rotates the refresh token (the one used stops working, as
//       the docs warn rotation will); a revoked, unknown or rotated-away
//       refresh token, and an unknown or used code, answer 400
//       invalid_grant.
//   POST /oauth/token  (GGG; pathofexile.com/developer/docs/authorization)
//       form grant_type=client_credentials&client_id&client_secret&scope;
//       service scopes only (service:psapi, service:cxapi, ...); answers
//       {access_token, expires_in, token_type: "bearer", scope, username,
//       sub}. Lifetime SimConfig::poe_token_lifetime_s.
//
// The signature segment of an access token is random: the simulator knows
// the tokens it issued (as the real services verify theirs), so an unknown
// token is invalid and a known one past its exp is expired.
//
// Control routes (not the upstreams'):
//   POST /sim/sso/grant?character_id=ID[&scopes=a,b]
//        -> {character_id, refresh_token, code}: what a player's consent in
//           the browser would give an application (scopes default:
//           esi-killmails.read_killmails.v1)
//   POST /sim/sso/revoke?character_id=ID -> {revoked: n}: the player revokes
//        the application (EVE's third-party applications page)
//   POST /sim/sso/outage?seconds=N -> both token endpoints answer 503 for N
//        seconds (0 ends it)
//
// Thread-safety: every public method is safe to call concurrently (one mutex).
#ifndef SLUICE_SIM_OAUTH_SERVER_H_
#define SLUICE_SIM_OAUTH_SERVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "sim/config.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace sluice::sim {

inline constexpr char kKillmailsScope[] = "esi-killmails.read_killmails.v1";

class OAuthServer {
 public:
  // `on_esi_token` learns every ESI access token issued (the ESI modules that
  // check tokens themselves accept it).
  OAuthServer(const SimConfig& config, const Clock* clock, uint64_t seed,
              std::function<void(const std::string&, int64_t, TimePoint)> on_esi_token);

  void Register(httplib::Server& server);

  // What an ESI request's bearer token is to the SSO.
  struct EsiToken {
    // kInvalid: JWT-shaped but not issued here (or long forgotten).
    enum class State { kNotIssuedHere, kInvalid, kValid, kExpired } state = State::kNotIssuedHere;
    int64_t character_id = 0;
    std::vector<std::string> scopes;
  };
  EsiToken CheckEsi(absl::string_view token) const;

  struct PoeToken {
    enum class State { kMissing, kUnknown, kExpired, kValid } state = State::kMissing;
    std::vector<std::string> scopes;
  };
  PoeToken CheckPoe(absl::string_view token) const;

  // A request refused for an expired token ("esi" or "poe"), or for an
  // invalid one / a missing scope.
  void CountRejected(const std::string& upstream, const std::string& why);

  // {"oauth": {"grants": {...}, "invalid_grant": n, "invalid_client": n,
  //            "outage_refusals": n, "rejected": {"esi": {"expired": n, ...}, ...},
  //            "refresh_tokens": n, "revoked": n}}
  nlohmann::json Summary() const;
  void ResetCounters();

  // For tests: mints a grant as POST /sim/sso/grant does.
  struct Grant {
    std::string refresh_token;
    std::string code;
  };
  Grant MintGrant(int64_t character_id, const std::vector<std::string>& scopes);
  int Revoke(int64_t character_id);

 private:
  struct RefreshToken {
    int64_t character_id = 0;
    std::vector<std::string> scopes;
  };
  struct AccessToken {
    int64_t character_id = 0;  // 0: a PoE service token
    std::vector<std::string> scopes;
    TimePoint expires;
  };

  std::string RandomHex(int bytes);  // mu_ held
  nlohmann::json IssueEsi(int64_t character_id, const std::vector<std::string>& scopes,
                          std::string* token_out, TimePoint* expires_out);  // mu_ held
  void Prune(TimePoint now);  // mu_ held
  bool InOutage(TimePoint now) const;  // mu_ held

  const SimConfig config_;
  const Clock* const clock_;
  const std::function<void(const std::string&, int64_t, TimePoint)> on_esi_token_;

  mutable std::mutex mu_;
  std::mt19937_64 rng_;                                   // guarded by mu_
  std::map<std::string, RefreshToken, std::less<>> refresh_;  // guarded by mu_
  std::map<std::string, RefreshToken, std::less<>> codes_;    // guarded by mu_
  std::map<std::string, AccessToken, std::less<>> access_;    // guarded by mu_
  TimePoint outage_until_{};                              // guarded by mu_
  TimePoint last_prune_{};                                // guarded by mu_
  std::map<std::string, int64_t> counters_;               // guarded by mu_
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_OAUTH_SERVER_H_
