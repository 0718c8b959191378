// Every statement of the core ESI sync by name: the entity writer's upserts
// (entity_writer.h) and the daily snapshots (snapshot_job.h).
//
// Each entity type has a static table (what rarely changes: name, ticker,
// founder) and an ephemeral one (membership, counts); one statement per
// table writes a whole batch, its rows passed as one JSON array.
#ifndef SLUICE_SERVER_WORKFLOWS_ESI_ESI_SQL_H_
#define SLUICE_SERVER_WORKFLOWS_ESI_ESI_SQL_H_

namespace sluice::esi_sql {

// $1 rows (JSON: alliance_id, name, ticker, creator_id, creator_corporation_id,
// date_founded), $2 now.
inline constexpr char kUpsertAllianceStatic[] = R"sql(
INSERT INTO alliance_static (alliance_id, name, ticker, creator_id, creator_corporation_id,
                             date_founded, last_modified)
SELECT x.alliance_id, x.name, x.ticker, x.creator_id, x.creator_corporation_id, x.date_founded, $2
  FROM jsonb_to_recordset($1::jsonb) AS x(alliance_id BIGINT, name TEXT, ticker TEXT,
       creator_id BIGINT, creator_corporation_id BIGINT, date_founded TIMESTAMPTZ)
ON CONFLICT (alliance_id) DO UPDATE SET
  name = EXCLUDED.name, ticker = EXCLUDED.ticker, creator_id = EXCLUDED.creator_id,
  creator_corporation_id = EXCLUDED.creator_corporation_id,
  date_founded = EXCLUDED.date_founded, last_modified = EXCLUDED.last_modified)sql";

// $1 rows (JSON: alliance_id, executor_corporation_id, faction_id), $2 now.
inline constexpr char kUpsertAllianceEphemeral[] = R"sql(
INSERT INTO alliance_ephemeral (alliance_id, executor_corporation_id, faction_id, updated_at)
SELECT x.alliance_id, x.executor_corporation_id, x.faction_id, $2
  FROM jsonb_to_recordset($1::jsonb) AS x(alliance_id BIGINT, executor_corporation_id BIGINT,
       faction_id BIGINT)
ON CONFLICT (alliance_id) DO UPDATE SET
  executor_corporation_id = EXCLUDED.executor_corporation_id,
  faction_id = EXCLUDED.faction_id, updated_at = EXCLUDED.updated_at)sql";

// $1 rows (JSON: corporation_id, name, ticker, creator_id, date_founded), $2 now.
inline constexpr char kUpsertCorporationStatic[] = R"sql(
INSERT INTO corporation_static (corporation_id, name, ticker, creator_id, date_founded,
                                last_modified)
SELECT x.corporation_id, x.name, x.ticker, x.creator_id, x.date_founded, $2
  FROM jsonb_to_recordset($1::jsonb) AS x(corporation_id BIGINT, name TEXT, ticker TEXT,
       creator_id BIGINT, date_founded TIMESTAMPTZ)
ON CONFLICT (corporation_id) DO UPDATE SET
  name = EXCLUDED.name, ticker = EXCLUDED.ticker, creator_id = EXCLUDED.creator_id,
  date_founded = EXCLUDED.date_founded, last_modified = EXCLUDED.last_modified)sql";

// $1 rows (JSON: corporation_id, member_count, ceo_id, alliance_id, tax_rate,
// faction_id), $2 now.
inline constexpr char kUpsertCorporationEphemeral[] = R"sql(
INSERT INTO corporation_ephemeral (corporation_id, member_count, ceo_id, alliance_id, tax_rate,
                                   faction_id, updated_at)
SELECT x.corporation_id, x.member_count, x.ceo_id, x.alliance_id, x.tax_rate, x.faction_id, $2
  FROM jsonb_to_recordset($1::jsonb) AS x(corporation_id BIGINT, member_count BIGINT,
       ceo_id BIGINT, alliance_id BIGINT, tax_rate DOUBLE PRECISION, faction_id BIGINT)
ON CONFLICT (corporation_id) DO UPDATE SET
  member_count = EXCLUDED.member_count, ceo_id = EXCLUDED.ceo_id,
  alliance_id = EXCLUDED.alliance_id, tax_rate = EXCLUDED.tax_rate,
  faction_id = EXCLUDED.faction_id, updated_at = EXCLUDED.updated_at)sql";

// $1 rows (JSON: character_id, name, birthday, gender, race_id, bloodline_id),
// $2 now.
inline constexpr char kUpsertCharacterStatic[] = R"sql(
INSERT INTO character_static (character_id, name, birthday, gender, race_id, bloodline_id,
                              last_modified)
SELECT x.character_id, x.name, x.birthday, x.gender, x.race_id, x.bloodline_id, $2
  FROM jsonb_to_recordset($1::jsonb) AS x(character_id BIGINT, name TEXT, birthday TIMESTAMPTZ,
       gender TEXT, race_id BIGINT, bloodline_id BIGINT)
ON CONFLICT (character_id) DO UPDATE SET
  name = EXCLUDED.name, birthday = EXCLUDED.birthday, gender = EXCLUDED.gender,
  race_id = EXCLUDED.race_id, bloodline_id = EXCLUDED.bloodline_id,
  last_modified = EXCLUDED.last_modified)sql";

// $1 rows (JSON: character_id, corporation_id, alliance_id, security_status),
// $2 now.
inline constexpr char kUpsertCharacterEphemeral[] = R"sql(
INSERT INTO character_ephemeral (character_id, corporation_id, alliance_id, security_status,
                                 updated_at)
SELECT x.character_id, x.corporation_id, x.alliance_id, x.security_status, $2
  FROM jsonb_to_recordset($1::jsonb) AS x(character_id BIGINT, corporation_id BIGINT,
       alliance_id BIGINT, security_status DOUBLE PRECISION)
ON CONFLICT (character_id) DO UPDATE SET
  corporation_id = EXCLUDED.corporation_id, alliance_id = EXCLUDED.alliance_id,
  security_status = EXCLUDED.security_status, updated_at = EXCLUDED.updated_at)sql";

// A day's alliances. corporation_count / member_count come from the
// corporations that name the alliance today, which is what seed 001's
// alliance snapshot tracks. $1 day (UTC, YYYY-MM-DD), $2 taken at.
inline constexpr char kAllianceSnapshot[] = R"sql(
INSERT INTO alliance_snapshot (day, alliance_id, name, ticker, executor_corporation_id,
                               faction_id, corporation_count, member_count, taken_at)
SELECT $1::date, s.alliance_id, s.name, s.ticker, e.executor_corporation_id, e.faction_id,
       coalesce(c.corporations, 0), coalesce(c.members, 0), $2::timestamptz
FROM alliance_static s
LEFT JOIN alliance_ephemeral e USING (alliance_id)
LEFT JOIN (SELECT alliance_id, count(*) AS corporations,
                  coalesce(sum(member_count), 0) AS members
           FROM corporation_ephemeral
           WHERE alliance_id IS NOT NULL
           GROUP BY alliance_id) c USING (alliance_id)
ON CONFLICT (day, alliance_id) DO UPDATE SET
  name = EXCLUDED.name, ticker = EXCLUDED.ticker,
  executor_corporation_id = EXCLUDED.executor_corporation_id, faction_id = EXCLUDED.faction_id,
  corporation_count = EXCLUDED.corporation_count, member_count = EXCLUDED.member_count,
  taken_at = EXCLUDED.taken_at)sql";

// A day's corporations. $1 day (UTC, YYYY-MM-DD), $2 taken at.
inline constexpr char kCorporationSnapshot[] = R"sql(
INSERT INTO corporation_snapshot (day, corporation_id, name, ticker, member_count, ceo_id,
                                  alliance_id, tax_rate, taken_at)
SELECT $1::date, s.corporation_id, s.name, s.ticker, e.member_count, e.ceo_id, e.alliance_id,
       e.tax_rate, $2::timestamptz
FROM corporation_static s
LEFT JOIN corporation_ephemeral e USING (corporation_id)
ON CONFLICT (day, corporation_id) DO UPDATE SET
  name = EXCLUDED.name, ticker = EXCLUDED.ticker, member_count = EXCLUDED.member_count,
  ceo_id = EXCLUDED.ceo_id, alliance_id = EXCLUDED.alliance_id, tax_rate = EXCLUDED.tax_rate,
  taken_at = EXCLUDED.taken_at)sql";

}  // namespace sluice::esi_sql

#endif  // SLUICE_SERVER_WORKFLOWS_ESI_ESI_SQL_H_
