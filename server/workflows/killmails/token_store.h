// CharacterTokenStore keeps the characters' ESI access tokens that killmail
// sync needs (character_tokens), and (0017) their EVE SSO refresh tokens,
// scopes and state (active / disabled with the reason) for the refresher
// (sso_refresher.h), all sealed under the coordinator's token key
// (common/secret_box.h, 0016_sealed_tokens.sql), each bound to its character
// (TokenLabel) so a sealed value copied onto another row does not open. Only
// the coordinator writes it; tokens are never read back out of it except into
// the lease context of that character's task (killmail_kinds.cc). Without a
// key nothing is stored or handed out.
//
// Ownership: borrows the pool, the clock and the box (may be null: no key).
// Thread-safety: no mutable state; safe from any thread.
#ifndef SLUICE_SERVER_WORKFLOWS_KILLMAILS_TOKEN_STORE_H_
#define SLUICE_SERVER_WORKFLOWS_KILLMAILS_TOKEN_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/secret_box.h"
#include "server/store/pg_pool.h"

namespace sluice {

struct CharacterTokenInfo {
  int64_t character_id = 0;
  TimePoint expires_at;
  bool expired = false;
  int64_t last_killmail_id = 0;  // 0 = never synced
  std::optional<TimePoint> last_killmail_sync_at;
  int64_t killmails = 0;
  TimePoint updated_at;
  // 0017: a refresh token is stored (the coordinator refreshes the access
  // token); the state and why it is disabled; the scopes granted (known only
  // for refreshable tokens); refreshes done; the transient-failure back-off.
  bool refreshable = false;
  std::string state = "active";  // "active" | "disabled"
  std::string disabled_reason;
  std::optional<TimePoint> disabled_at;
  std::optional<std::vector<std::string>> scopes;
  int64_t refreshes = 0;
  int refresh_failures = 0;
  std::string last_refresh_error;
  std::optional<TimePoint> next_refresh_at;
};

// What a refresh needs: the refresh token, opened, and its sealed form,
// which identifies the version refreshed (a result is stored only if the row
// still holds it).
struct DueRefresh {
  int64_t character_id = 0;
  std::string refresh_token;
  std::string sealed_hex;
  int failures = 0;
};

// A token endpoint's answer for one character, as the store keeps it.
struct RefreshedToken {
  std::string access_token;
  TimePoint expires_at;
  std::string refresh_token;  // the rotated one, or the one used
  std::vector<std::string> scopes;
};

// What re-keying did: rows sealed again under the current key (from the
// previous key, or plain rows sealed for the first time), and rows it could
// not open (sealed under a key this coordinator does not hold, or damaged).
struct RekeyResult {
  int64_t resealed = 0;
  int64_t sealed_plain = 0;
  int64_t unreadable = 0;
  std::string current_key_id;
};

// The label a character's token is sealed under.
std::string TokenLabel(int64_t character_id);
// The label of its refresh token (another label: a sealed refresh token
// copied into the access token's column does not open).
std::string RefreshTokenLabel(int64_t character_id);

// FAILED_PRECONDITION saying how to give the coordinator a token key.
absl::Status NoTokenKeyError(const std::string& what);

class CharacterTokenStore {
 public:
  static constexpr size_t kMaxTokenLength = 4096;
  static constexpr int kMaxListIds = 10000;
  static constexpr int kRekeyPage = 500;

  CharacterTokenStore(PgPool* pool, const Clock* clock, const SecretBox* box)
      : pool_(pool), clock_(clock), box_(box) {}

  // Seals and stores or replaces the character's token; true if the
  // character had none. INVALID_ARGUMENT naming the field for a non-positive
  // id, an empty, oversized or non-printable token, or an expiry not in the
  // future; FAILED_PRECONDITION without a token key.
  absl::StatusOr<bool> Register(int64_t character_id, const std::string& access_token,
                                TimePoint expires_at);

  // Seals and stores (or replaces) an access token with its refresh token
  // and scopes, active; true if the character had none. Same checks as
  // Register on both tokens.
  absl::StatusOr<bool> RegisterRefreshable(int64_t character_id, const RefreshedToken& token);

  // Active refreshable tokens due for a refresh at `now` (see
  // killmail_sql::kDueForRefresh), at most `limit`. A refresh token no key
  // here opens is disabled with the reason, not returned.
  absl::StatusOr<std::vector<DueRefresh>> DueForRefresh(Duration margin, int limit);
  // Stores a refresh's result; false if the row changed meanwhile (a new
  // token was added, or it was disabled): the result is dropped.
  absl::StatusOr<bool> StoreRefreshed(const DueRefresh& used, const RefreshedToken& token);
  // A transient failure: no new attempt before `next_attempt`.
  absl::Status RecordRefreshFailure(const DueRefresh& used, TimePoint next_attempt,
                                    const std::string& error);
  // The SSO refused the refresh token for good: disabled with the reason.
  // `used` null: whatever refresh token the row holds.
  absl::Status Disable(int64_t character_id, const DueRefresh* used, const std::string& reason);

  // Every character with a token (ids empty), or those ids; NOT_FOUND names
  // the ids that have no token.
  absl::StatusOr<std::vector<CharacterTokenInfo>> List(const std::vector<int64_t>& ids);

  // Seals every row that is not sealed under the current key (rows of the
  // previous key, plain rows from before 0016) under the current key, a page
  // per transaction. Rows no key here opens are counted and left as they
  // are. FAILED_PRECONDITION without a token key.
  absl::StatusOr<RekeyResult> Rekey();

 private:
  // The common checks of a token about to be stored; `field` names it.
  static absl::Status CheckToken(const std::string& field, const std::string& token);

  PgPool* const pool_;
  const Clock* const clock_;
  const SecretBox* const box_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_KILLMAILS_TOKEN_STORE_H_
