// Every statement of the killmail workflow by name: its task extensions
// (killmail_kinds.h), its jobs (killmail_jobs.h) and the token store
// (token_store.h).
//
// Table and column names that are not spelled here come from a TaskKind
// (constants of the module that registered it) or from the jobs' own
// constants, never from input; values are always bound.
#ifndef SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_SQL_H_
#define SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_SQL_H_

#include <string>

#include "server/queue/task_kinds.h"

namespace sluice::killmail_sql {

// --- character_killmails ---------------------------------------------------

// What a lease needs per character: the sealed token (hex) and its key id
// (NULL when the row still holds a plain token from before 0016, which is
// never handed out), whether it is still valid, its expiry as RFC 3339 (for
// the agent's message), the checkpoint, and (0017) its state, why it is
// disabled and its scopes (NULL = unknown). $1 character ids, $2 now.
inline constexpr char kLeaseTokens[] = R"sql(
SELECT character_id, encode(token_sealed, 'hex'), token_key_id, expires_at > $2::timestamptz,
       to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
       COALESCE(last_killmail_id, 0), state, COALESCE(disabled_reason, ''),
       array_to_string(scopes, ' ')
  FROM character_tokens
 WHERE character_id = ANY($1::bigint[]))sql";

// Refs whose killmail is known already keep their row; returns the ids
// inserted. In id order, so that two transactions inserting the same ids
// never wait for each other in opposite orders. $1 ids, $2 hashes.
inline constexpr char kInsertRefs[] = R"sql(
INSERT INTO killmails (killmail_id, killmail_hash)
SELECT id, hash FROM unnest($1::bigint[], $2::text[]) AS r(id, hash) ORDER BY id
ON CONFLICT (killmail_id) DO NOTHING
RETURNING killmail_id)sql";

// $1 character, $2 killmail ids.
inline constexpr char kLinkCharacter[] = R"sql(
INSERT INTO character_killmails (character_id, killmail_id)
SELECT $1, id FROM unnest($2::bigint[]) AS r(id) ORDER BY id
ON CONFLICT DO NOTHING)sql";

// A full read replaces the checkpoint (the list may no longer hold the stored
// id); an incremental one only moves it forward. 0 means none.
// $1 character, $2 newest killmail id read, $3 now, $4 replace (a full read).
inline constexpr char kMoveCheckpoint[] = R"sql(
UPDATE character_tokens SET
  last_killmail_id = CASE WHEN $4 THEN $2
                          ELSE NULLIF(GREATEST(COALESCE(last_killmail_id, 0), $2), 0) END,
  last_killmail_sync_at = $3::timestamptz, updated_at = $3::timestamptz
 WHERE character_id = $1)sql";

// $1 killmail ids.
inline constexpr char kBodiesMissing[] = R"sql(
SELECT killmail_id FROM killmails WHERE killmail_id = ANY($1::bigint[]) AND body IS NULL
 ORDER BY 1)sql";

// --- killmail --------------------------------------------------------------

// $1 killmail ids.
inline constexpr char kHashes[] =
    "SELECT killmail_id, killmail_hash FROM killmails WHERE killmail_id = ANY($1::bigint[])";

// Ids of 0 (an NPC, no alliance) are stored as NULL. $1 killmail, $2 time,
// $3 solar system, $4 victim character, $5 victim corporation, $6 victim
// alliance, $7 victim ship type, $8 body (JSON), $9 now.
inline constexpr char kWriteBody[] = R"sql(
UPDATE killmails SET killmail_time = $2::timestamptz, solar_system_id = $3,
       victim_character_id = NULLIF($4, 0), victim_corporation_id = NULLIF($5, 0),
       victim_alliance_id = NULLIF($6, 0), victim_ship_type_id = NULLIF($7, 0),
       body = $8::jsonb, fetched_at = $9::timestamptz
 WHERE killmail_id = $1)sql";

// $1 killmail.
inline constexpr char kDeleteParticipants[] =
    "DELETE FROM killmail_participants WHERE killmail_id = $1";

// One row per position of the arrays; ids of 0 are stored as NULL.
// $1 killmail, $2 positions, $3 characters, $4 corporations, $5 alliances,
// $6 ship types, $7 is-victim flags, $8 final-blow flags, $9 damage.
inline constexpr char kInsertParticipants[] = R"sql(
INSERT INTO killmail_participants (killmail_id, position, character_id, corporation_id,
                                   alliance_id, ship_type_id, is_victim, final_blow, damage)
SELECT $1, pos, NULLIF(ch, 0), NULLIF(co, 0), NULLIF(al, 0), NULLIF(sh, 0), vi, fb, dm
  FROM unnest($2::int[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
              $7::boolean[], $8::boolean[], $9::bigint[])
       AS p(pos, ch, co, al, sh, vi, fb, dm))sql";

// Of the ids, those `kind`'s entity table has no row for. $1 ids.
inline std::string MissingEntityIds(const TaskKind& kind) {
  return "SELECT i.id FROM unnest($1::bigint[]) AS i(id) WHERE NOT EXISTS (SELECT 1 FROM " +
         kind.entity_table + " s WHERE s." + kind.entity_key + " = i.id) ORDER BY 1";
}

// --- jobs ------------------------------------------------------------------

// Characters due for a killmail sync: a valid token, not synced since the
// cutoff; never-synced first. $1 now, $2 stale cutoff.
inline constexpr char kDueForSync[] = R"sql(
SELECT character_id, last_killmail_sync_at IS NULL FROM character_tokens
 WHERE expires_at > $1::timestamptz AND state = 'active'
   AND (last_killmail_sync_at IS NULL OR last_killmail_sync_at < $2::timestamptz)
 ORDER BY last_killmail_sync_at NULLS FIRST, character_id)sql";

// $1 now.
inline constexpr char kCountExpiredTokens[] =
    "SELECT count(*) FROM character_tokens WHERE expires_at <= $1::timestamptz";

// Every id a killmail_participants `column` names that `kind`'s entity table
// has no row for.
inline std::string ParticipantsMissing(const std::string& column, const TaskKind& kind) {
  return "SELECT DISTINCT p." + column + " FROM killmail_participants p WHERE p." + column +
         " > 0 AND NOT EXISTS (SELECT 1 FROM " + kind.entity_table + " s WHERE s." +
         kind.entity_key + " = p." + column + ") ORDER BY 1";
}

// --- token store -----------------------------------------------------------

// Returns whether the row is new. $1 character, $2 sealed token (hex), $3 its
// key id, $4 expires, $5 now. An access token alone: the row keeps no
// refresh token (what it had is dropped) and is active again.
inline constexpr char kPutToken[] = R"sql(
INSERT INTO character_tokens (character_id, token_sealed, token_key_id, expires_at, updated_at,
                              access_issued_at)
VALUES ($1, decode($2, 'hex'), $3, $4::timestamptz, $5::timestamptz, $5::timestamptz)
ON CONFLICT (character_id) DO UPDATE SET access_token = NULL,
  token_sealed = EXCLUDED.token_sealed, token_key_id = EXCLUDED.token_key_id,
  expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at,
  access_issued_at = EXCLUDED.access_issued_at, refresh_sealed = NULL, refresh_key_id = NULL,
  scopes = NULL, state = 'active', disabled_reason = NULL, disabled_at = NULL,
  refresh_failures = 0, next_refresh_at = NULL, last_refresh_error = NULL
RETURNING (xmax = 0))sql";

// An access token with its refresh token and scopes (tokens add
// --refresh_token / --code). Returns whether the row is new. $1 character,
// $2 sealed access token (hex), $3 sealed refresh token (hex), $4 the key id
// both are sealed under, $5 expires, $6 scopes, $7 now.
inline constexpr char kPutRefreshable[] = R"sql(
INSERT INTO character_tokens (character_id, token_sealed, refresh_sealed, token_key_id,
                              refresh_key_id, expires_at, scopes, updated_at, access_issued_at)
VALUES ($1, decode($2, 'hex'), decode($3, 'hex'), $4, $4, $5::timestamptz, $6::text[],
        $7::timestamptz, $7::timestamptz)
ON CONFLICT (character_id) DO UPDATE SET access_token = NULL,
  token_sealed = EXCLUDED.token_sealed, token_key_id = EXCLUDED.token_key_id,
  refresh_sealed = EXCLUDED.refresh_sealed, refresh_key_id = EXCLUDED.refresh_key_id,
  expires_at = EXCLUDED.expires_at, scopes = EXCLUDED.scopes, updated_at = EXCLUDED.updated_at,
  access_issued_at = EXCLUDED.access_issued_at, state = 'active', disabled_reason = NULL,
  disabled_at = NULL, refresh_failures = 0, next_refresh_at = NULL, last_refresh_error = NULL
RETURNING (xmax = 0))sql";

// Refreshable active tokens whose access token is due: past its expiry less
// the smaller of the margin and a quarter of its lifetime (so a short-lived
// token is not refreshed all the time), and not backing off. Soonest first.
// $1 now, $2 margin (seconds), $3 limit.
inline constexpr char kDueForRefresh[] = R"sql(
SELECT character_id, encode(refresh_sealed, 'hex'), refresh_key_id, refresh_failures
  FROM character_tokens
 WHERE refresh_sealed IS NOT NULL AND state = 'active'
   AND expires_at - LEAST(make_interval(secs => $2::float8),
                          (expires_at - COALESCE(access_issued_at, updated_at)) / 4)
       <= $1::timestamptz
   AND (next_refresh_at IS NULL OR next_refresh_at <= $1::timestamptz)
 ORDER BY expires_at
 LIMIT $3)sql";

// A refresh's result, only if the refresh token is still the one refreshed
// (a `tokens add` meanwhile wins). $1 character, $2 the refresh token that
// was used (sealed, hex), $3 sealed access token, $4 sealed refresh token
// (the rotated one, or the same), $5 key id, $6 expires, $7 scopes, $8 now.
inline constexpr char kStoreRefreshed[] = R"sql(
UPDATE character_tokens SET access_token = NULL, token_sealed = decode($3, 'hex'),
       refresh_sealed = decode($4, 'hex'), token_key_id = $5, refresh_key_id = $5,
       expires_at = $6::timestamptz, scopes = $7::text[], access_issued_at = $8::timestamptz,
       updated_at = $8::timestamptz, refreshes = refreshes + 1, refresh_failures = 0,
       next_refresh_at = NULL, last_refresh_error = NULL
 WHERE character_id = $1 AND refresh_sealed = decode($2, 'hex') AND state = 'active')sql";

// A transient refresh failure: back off. $1 character, $2 the refresh token
// used (sealed, hex), $3 next attempt, $4 error.
inline constexpr char kRefreshFailed[] = R"sql(
UPDATE character_tokens SET refresh_failures = refresh_failures + 1,
       next_refresh_at = $3::timestamptz, last_refresh_error = $4
 WHERE character_id = $1 AND refresh_sealed = decode($2, 'hex'))sql";

// The SSO refused the refresh token for good. $1 character, $2 whatever
// refresh token the row holds (true) or only $3 (the one used, sealed, hex),
// $4 reason, $5 now.
inline constexpr char kDisableToken[] = R"sql(
UPDATE character_tokens SET state = 'disabled', disabled_reason = $4,
       disabled_at = $5::timestamptz, last_refresh_error = $4, updated_at = $5::timestamptz
 WHERE character_id = $1 AND state = 'active'
   AND ($2::bool OR refresh_sealed = decode($3, 'hex')))sql";

// Re-keying, a page at a time by character id: rows not sealed under the
// current key (sealed under another, or still plain), locked until resealed.
// $1 after this character id, $2 the current key id, $3 page size.
inline constexpr char kTokensToReseal[] = R"sql(
SELECT character_id, encode(token_sealed, 'hex'), token_key_id, access_token,
       encode(refresh_sealed, 'hex'), refresh_key_id
  FROM character_tokens
 WHERE character_id > $1 AND (access_token IS NOT NULL OR token_key_id IS DISTINCT FROM $2
                              OR refresh_key_id IS DISTINCT FROM $2 AND refresh_key_id IS NOT NULL)
 ORDER BY character_id
 LIMIT $3
   FOR UPDATE)sql";

// $1 character ids, $2 sealed tokens (hex), $3 the key id they are sealed
// under, $4 sealed refresh tokens (hex; '' = none).
inline constexpr char kResealTokens[] = R"sql(
UPDATE character_tokens t SET access_token = NULL, token_sealed = decode(r.sealed, 'hex'),
       token_key_id = $3,
       refresh_sealed = CASE WHEN r.refresh = '' THEN NULL ELSE decode(r.refresh, 'hex') END,
       refresh_key_id = CASE WHEN r.refresh = '' THEN NULL ELSE $3 END
  FROM unnest($1::bigint[], $2::text[], $4::text[]) AS r(id, sealed, refresh)
 WHERE t.character_id = r.id)sql";

// Rows per key id ('' = still plain), for the re-keying report.
inline constexpr char kTokensPerKey[] = R"sql(
SELECT COALESCE(token_key_id, ''), count(*) FROM character_tokens GROUP BY 1 ORDER BY 1)sql";

// Never the token itself; scopes space-separated (an OAuth scope has no
// space, RFC 6749 section 3.3). $1 all (no filter), $2 character ids.
inline constexpr char kListTokens[] = R"sql(
SELECT t.character_id, EXTRACT(EPOCH FROM t.expires_at)::float8,
       COALESCE(t.last_killmail_id, 0), EXTRACT(EPOCH FROM t.last_killmail_sync_at)::float8,
       (SELECT count(*) FROM character_killmails k WHERE k.character_id = t.character_id),
       EXTRACT(EPOCH FROM t.updated_at)::float8,
       t.refresh_sealed IS NOT NULL, t.state, COALESCE(t.disabled_reason, ''),
       EXTRACT(EPOCH FROM t.disabled_at)::float8, COALESCE(array_to_string(t.scopes, ' '), ''),
       t.scopes IS NOT NULL, t.refreshes, t.refresh_failures,
       COALESCE(t.last_refresh_error, ''), EXTRACT(EPOCH FROM t.next_refresh_at)::float8
  FROM character_tokens t
 WHERE $1 OR t.character_id = ANY($2::bigint[])
 ORDER BY t.character_id)sql";

}  // namespace sluice::killmail_sql

#endif  // SLUICE_SERVER_WORKFLOWS_KILLMAILS_KILLMAIL_SQL_H_
