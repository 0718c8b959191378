// Every statement of the state store (PgStateStore) on system_state, by name.
// Values are JSON documents bound as text and cast to jsonb; keys are always
// bound.
#ifndef SLUICE_SERVER_STORE_STATE_SQL_H_
#define SLUICE_SERVER_STORE_STATE_SQL_H_

namespace sluice::state_sql {

// $1 key, $2 value (JSON text).
inline constexpr char kPut[] = R"sql(
INSERT INTO system_state (key, value, updated_at) VALUES ($1, $2::jsonb, now())
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now())sql";

// $1 key.
inline constexpr char kGet[] = "SELECT value::text FROM system_state WHERE key = $1";

// starts_with, not LIKE: a prefix may hold LIKE's wildcard characters.
// $1 prefix.
inline constexpr char kList[] =
    "SELECT key, value::text FROM system_state WHERE starts_with(key, $1)";

// $1 keys (a JSON array of strings).
inline constexpr char kDeleteMany[] = R"sql(
DELETE FROM system_state WHERE key IN (SELECT jsonb_array_elements_text($1::jsonb)))sql";

// $1 key -> value (one JSON object; each value a JSON document).
inline constexpr char kPutMany[] = R"sql(
INSERT INTO system_state (key, value, updated_at)
SELECT key, value, now() FROM jsonb_each($1::jsonb)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now())sql";

}  // namespace sluice::state_sql

#endif  // SLUICE_SERVER_STORE_STATE_SQL_H_
