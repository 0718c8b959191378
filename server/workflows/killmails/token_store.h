// CharacterTokenStore keeps the characters' ESI access tokens that killmail
// sync needs (character_tokens). Only the coordinator writes it; tokens are
// never read back out of it except into a lease's context.
//
// Ownership: borrows the pool and the clock. Thread-safety: no mutable state;
// safe from any thread.
#ifndef SLUICE_SERVER_WORKFLOWS_KILLMAILS_TOKEN_STORE_H_
#define SLUICE_SERVER_WORKFLOWS_KILLMAILS_TOKEN_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
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
};

class CharacterTokenStore {
 public:
  static constexpr size_t kMaxTokenLength = 4096;
  static constexpr int kMaxListIds = 10000;

  CharacterTokenStore(PgPool* pool, const Clock* clock) : pool_(pool), clock_(clock) {}

  // Stores or replaces the character's token; true if the character had
  // none. INVALID_ARGUMENT naming the field for a non-positive id, an empty,
  // oversized or non-printable token, or an expiry not in the future.
  absl::StatusOr<bool> Register(int64_t character_id, const std::string& access_token,
                                TimePoint expires_at);

  // Every character with a token (ids empty), or those ids; NOT_FOUND names
  // the ids that have no token.
  absl::StatusOr<std::vector<CharacterTokenInfo>> List(const std::vector<int64_t>& ids);

 private:
  PgPool* const pool_;
  const Clock* const clock_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_KILLMAILS_TOKEN_STORE_H_
