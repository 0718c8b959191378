// CharacterTokenStore keeps the characters' ESI access tokens that killmail
// sync needs (character_tokens), sealed under the coordinator's token key
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

  // Every character with a token (ids empty), or those ids; NOT_FOUND names
  // the ids that have no token.
  absl::StatusOr<std::vector<CharacterTokenInfo>> List(const std::vector<int64_t>& ids);

  // Seals every row that is not sealed under the current key (rows of the
  // previous key, plain rows from before 0016) under the current key, a page
  // per transaction. Rows no key here opens are counted and left as they
  // are. FAILED_PRECONDITION without a token key.
  absl::StatusOr<RekeyResult> Rekey();

 private:
  PgPool* const pool_;
  const Clock* const clock_;
  const SecretBox* const box_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_KILLMAILS_TOKEN_STORE_H_
