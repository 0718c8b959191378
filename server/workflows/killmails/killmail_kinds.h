// The killmail workflow's task kinds and their TaskExtensions
// (store/task_extension.h):
//
//   character_killmails (entity = character id; urgency weight from
//     character_static.access_count): the lease carries the character's
//     token (opened from its sealed row for this lease only; without a token
//     key, a problem instead) and last synced killmail id; the completion's refs, links and
//     the new checkpoint (last_killmail_id, last_killmail_sync_at) commit in
//     the completion's transaction, and refs whose body is still unknown are
//     queued as `killmail` tasks.
//   killmail (entity = killmail id): the lease carries the hash; the
//     completion writes the body and participants and queues the
//     participants' characters, corporations, alliances and ship types that
//     are not stored yet ("scan entities", per killmail).
//
// Thread-safety: the extensions keep no state.
#ifndef SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_KINDS_H_
#define SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_KINDS_H_

#include <string>
#include <vector>

#include "common/secret_box.h"
#include "server/queue/task_kinds.h"
#include "server/store/task_extension.h"

namespace sluice {

inline constexpr char kCharacterKillmailsKind[] = "character_killmails";
inline constexpr char kKillmailKind[] = "killmail";
// Contract helper's kind; discovered only if registered (the store skips
// kinds it does not know).
inline constexpr char kUniverseTypeKind[] = "universe_type";

// Registers both kinds and their extensions. token_box opens the stored
// tokens (null: no key; tokens are not handed out). Borrowed.
absl::Status RegisterKillmailKinds(TaskKindRegistry& kinds, TaskExtensionRegistry& extensions,
                                   const SecretBox* token_box);

// Of `ids`, those with no row in `kind`'s entity table (every id if the kind
// is unknown (null) or has no table), positive, deduplicated, ascending. For
// discovery from killmails.
std::vector<int64_t> MissingEntityIds(pqxx::dbtransaction& txn, const TaskKind* kind,
                                      const std::vector<int64_t>& ids);

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_KINDS_H_
