// KillmailRoutes serves ESI's killmail routes over the generated universe:
//
//   GET /characters/{character_id}/killmails/recent/?page=N
//       needs "Authorization: Bearer <token>" issued by POST /sim/tokens for
//       that character (401 without a valid token, 403 for another
//       character's); 50 refs {killmail_id, killmail_hash} per page, newest
//       (highest id) first, X-Pages; rate-limit group "char-killmail", ESI's
//       own (30 tokens / 15 min per character by default, SimConfig).
//       Cached as ESI caches it, once for everyone asking: the list is built
//       when first asked for after its cache expired, and until it expires
//       again (SimConfig::cache_killmail_recent_seconds, ESI's 300 s) every
//       page comes from that version, with its Last-Modified and Expires;
//       killmails added meanwhile appear after it
//       (developers.eveonline.com/docs/services/esi/pagination/x-pages/).
//   GET /killmails/{killmail_id}/{killmail_hash}/
//       public; 404 for an unknown id or a wrong hash. ESI's shape: victim
//       {character_id, corporation_id, alliance_id?, ship_type_id,
//       damage_taken}, attackers [{..., final_blow, damage_done}]. No
//       rate-limit group by default (error limit only);
//       SimConfig::esi_killmail_body_group puts it in one.
//
// Tokens issued here are access tokens of their character: the Simulator
// bills a request carrying one (on any route) to "char:<character_id>".
//
// Every participant is a universe character, so discovery from killmails
// ("scan entities") ends at entities the simulator serves. Ship types come
// from a small fixed list (kShipTypeIds) that the contract routes also serve
// under /universe/types/{id}/.
//
// History: each character has a deterministic initial history (0..120
// killmails, so paging is real for many), plus killmails added by
// POST /sim/killmails, plus one more every growth period (deterministic from
// the clock; SIM_KILLMAIL_GROWTH_PERIOD_S, default 21600, 0 = off). A
// character's list also holds some killmails of a partner character (shared
// killmails), so two characters' syncs can name the same killmail.
//
// Killmail ids encode (sequence, character index): id = kKillmailIdBase +
// seq * kIdStride + index, so a higher sequence of any character is a higher
// id, and a body is derived from its id alone.
//
// Control routes:
//   POST /sim/tokens?character_id=ID[&ttl_s=N]  -> {character_id, access_token, expires_at}
//   POST /sim/tokens?count=N[&ttl_s=N]          -> [...] for the first N characters
//   POST /sim/killmails?character_id=ID&count=N -> {character_id, added, total, newest_killmail_id}
//   GET  /sim/killmails?character_id=ID         -> {character_id, total, newest_killmail_id, pages}
//
// Thread-safety: see EsiModule; tokens and added counts live behind mu_.
#ifndef SLUICE_SIM_KILLMAIL_ROUTES_H_
#define SLUICE_SIM_KILLMAIL_ROUTES_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sim/esi_module.h"

namespace sluice::sim {

inline constexpr int64_t kKillmailIdBase = 100000000;
inline constexpr int64_t kIdStride = 1 << 17;  // > characters of the full universe
inline constexpr int kKillmailsPerPage = 50;
inline constexpr int64_t kShipTypeIds[] = {587, 24690, 17738, 641, 11567, 603, 33468, 670};

class KillmailRoutes final : public EsiModule {
 public:
  // growth_period: one more killmail per character per period; zero = none.
  KillmailRoutes(const Universe* universe, const SimConfig& config, const Clock* clock,
                 Duration growth_period);

  bool Match(const std::vector<absl::string_view>& segments, EsiModuleMatch* m) const override;
  Reply Serve(const EsiModuleMatch& m, const httplib::Request& request) const override;
  void RegisterControl(httplib::Server& server) override;
  nlohmann::json Summary() const override;
  std::vector<EsiRouteInfo> Routes() const override;
  std::optional<int64_t> CharacterForToken(absl::string_view token) const override;
  void AcceptToken(const std::string& token, int64_t character_id, TimePoint expires) override;

  // For tests and the control routes. nullopt for an unknown character.
  std::optional<std::vector<int64_t>> KillmailIds(int64_t character_id) const;
  // A token for the character, valid for `ttl`. NotFound for an unknown one.
  absl::StatusOr<std::string> IssueToken(int64_t character_id, Duration ttl, TimePoint* expires);
  // Adds `count` new (higher-id) killmails; returns the new total.
  absl::StatusOr<int64_t> AddKillmails(int64_t character_id, int count);
  static std::string HashOf(int64_t killmail_id, uint64_t seed);

 private:
  struct Token {
    int64_t character_id = 0;
    TimePoint expires;
  };

  std::optional<uint32_t> IndexOf(int64_t character_id) const;
  int64_t CountOf(uint32_t index, TimePoint now) const;
  uint32_t PartnerOf(uint32_t index) const;
  std::vector<int64_t> ListOf(uint32_t index, TimePoint now) const;
  // A version of a character's list as ESI's cache holds it.
  struct CachedList {
    TimePoint built;  // whole seconds: Last-Modified
    std::vector<int64_t> ids;
  };
  static constexpr size_t kMaxCachedLists = 100000;
  // The version served at `now`, built afresh once the cached one expired.
  CachedList CurrentList(uint32_t index, TimePoint now) const;
  Reply Recent(const std::string& id_text, const httplib::Request& request) const;
  Reply Body(const std::string& id_text, const std::string& hash) const;
  uint64_t H(uint64_t a, uint64_t b) const;

  const Universe* const universe_;
  const uint64_t seed_;
  const Clock* const clock_;
  const Duration growth_period_;
  const Duration list_cache_;  // SimConfig::cache_killmail_recent_seconds
  const TimePoint start_;
  const std::string body_group_;     // SimConfig::esi_killmail_body_group
  std::vector<int64_t> characters_;  // ascending; index = position

  mutable std::mutex mu_;
  std::map<std::string, Token, std::less<>> tokens_;  // guarded by mu_
  std::map<uint32_t, int64_t> added_;                 // guarded by mu_
  int64_t tokens_issued_ = 0;                         // guarded by mu_
  int64_t added_total_ = 0;                           // guarded by mu_

  // Apart from mu_, which ListOf takes while lists_mu_ is held.
  mutable std::mutex lists_mu_;
  mutable std::map<uint32_t, CachedList> lists_;  // guarded by lists_mu_
};

// The module as esi_modules.cc creates it (growth period from the
// environment, see above).
std::unique_ptr<EsiModule> MakeKillmailRoutes(const Universe* universe, const SimConfig& config,
                                              const Clock* clock);

}  // namespace sluice::sim

#endif  // SLUICE_SIM_KILLMAIL_ROUTES_H_
