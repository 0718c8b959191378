// SsoRefresher keeps the characters' ESI access tokens valid from their EVE
// SSO refresh tokens (esi-docs, SSO/refreshing_access_tokens.md): a
// background thread of the leading coordinator finds the refreshable tokens
// due (past their JWT `exp` less a margin; CharacterTokenStore::DueForRefresh)
// and refreshes them one at a time, so at most one refresh per token is in
// flight across the whole deployment: agents never refresh, they are handed
// the stored access token with their lease (killmail_kinds.cc).
//
//   * success: the new access token, its `exp` and `scp` and the refresh
//     token the SSO returned (it may rotate it) are stored sealed;
//   * invalid_grant (revoked by the player, or dead): the token is disabled
//     with the SSO's reason (`sluicectl tokens list` shows it); other
//     characters go on;
//   * a transient failure (5xx, 429, timeout, a body that is no token
//     response): the token backs off, exponentially with jitter
//     (RetryPolicy), and is retried; its current access token stays usable
//     until it expires;
//   * any other OAuth error (invalid_client, ...) is the application's
//     configuration, not the token's: logged, backed off like a transient one.
//
// It also runs the two ways an operator adds a refreshable token
// (`sluicectl tokens add CHAR --refresh_token=...` / `--code=...`): one
// refresh or code exchange at once, so a bad token is refused at once, and
// the JWT's character must be the one named.
//
// Ownership: borrows the store, the endpoint client and the clock.
// Thread-safety: Add* and RefreshDue may be called from any thread; Start and
// Stop from the owner's thread.
#ifndef SLUICE_SERVER_WORKFLOWS_KILLMAILS_SSO_REFRESHER_H_
#define SLUICE_SERVER_WORKFLOWS_KILLMAILS_SSO_REFRESHER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/oauth/token_endpoint.h"
#include "server/queue/retry_policy.h"
#include "server/workflows/killmails/token_store.h"

namespace sluice {

struct SsoRefresherOptions {
  // Refresh this long before the access token's `exp`, or a quarter of its
  // lifetime if that is shorter (ESI tokens live 20 minutes).
  Duration margin = std::chrono::minutes(5);
  // How often the due tokens are looked for.
  Duration poll = std::chrono::seconds(1);
  int batch = 100;
  // Back-off after a transient failure.
  Duration backoff_base = std::chrono::seconds(5);
  Duration backoff_max = std::chrono::minutes(10);
};

// What one RefreshDue did.
struct RefreshRound {
  int refreshed = 0;
  int disabled = 0;
  int failed = 0;  // transient: backing off
};

class SsoRefresher {
 public:
  SsoRefresher(CharacterTokenStore* store, const oauth::TokenEndpointClient* sso,
               const Clock* clock, SsoRefresherOptions options);
  ~SsoRefresher();

  // One refresh with the given refresh token (or one code exchange), then
  // the result stored as the character's token; true if the character had
  // none. INVALID_ARGUMENT for an empty or malformed token/code, or an
  // access token of another character; FAILED_PRECONDITION for
  // invalid_grant; UNAVAILABLE when the SSO cannot be reached.
  absl::StatusOr<bool> AddRefreshToken(int64_t character_id, const std::string& refresh_token);
  absl::StatusOr<bool> AddAuthorizationCode(int64_t character_id, const std::string& code);

  // Refreshes every token due now, one after another.
  absl::StatusOr<RefreshRound> RefreshDue();

  // The background loop (idempotent both).
  void Start();
  void Stop();

  int64_t refreshes() const { return refreshes_.load(); }

 private:
  // A grant as the store keeps it, checked against the character.
  absl::StatusOr<RefreshedToken> ToStored(int64_t character_id, const oauth::TokenGrant& grant,
                                          const std::string& used_refresh_token) const;
  void Loop();

  CharacterTokenStore* const store_;
  const oauth::TokenEndpointClient* const sso_;
  const Clock* const clock_;
  const SsoRefresherOptions options_;
  RetryPolicy backoff_;
  std::atomic<int64_t> refreshes_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_KILLMAILS_SSO_REFRESHER_H_
