// Every statement of the PoE stream writers (stash_stream.h,
// exchange_stream.h) by name, in one place: the raw (bronze) tables a page
// lands in. The checkpoint's own statements are checkpoint_sql.h. A page's
// rows are passed as one JSON array; values are always bound.
#ifndef SLUICE_SERVER_WORKFLOWS_STREAMS_STREAM_SQL_H_
#define SLUICE_SERVER_WORKFLOWS_STREAMS_STREAM_SQL_H_

namespace sluice::stream_sql {

// --- the public stash stream (StashStreamExtension) ------------------------

// Creates the page's (league, day) partitions before its rows arrive (there
// is no default partition). $1 leagues, $2 day.
inline constexpr char kEnsureStashPartitions[] = R"sql(
SELECT poe_stash_raw_ensure_partition(l, $2::date) FROM unnest($1::text[]) AS l)sql";

// One statement per page; a replayed page inserts nothing (the dedupe key).
// $1 realm, $2 ingest date, $3 change id (the page's start cursor), $4 now,
// $5 stashes (JSON: league, stash_id, account_name, stash_name, stash_type,
// public, items).
inline constexpr char kInsertStashes[] = R"sql(
INSERT INTO poe_stash_raw (realm, league, ingest_date, change_id, stash_id, account_name,
                           stash_name, stash_type, public, items, ingested_at)
SELECT $1, s.league, $2::date, $3, s.stash_id, s.account_name, s.stash_name, s.stash_type,
       s.public, s.items, $4::timestamptz
  FROM jsonb_to_recordset($5::jsonb) AS s(league text, stash_id text, account_name text,
                                          stash_name text, stash_type text, public boolean,
                                          items jsonb)
ON CONFLICT DO NOTHING)sql";

// --- the currency exchange stream (ExchangeStreamExtension) ----------------

// $1 realm, $2 hour, $3 now, $4 markets (JSON: league, market_id,
// volume_traded, lowest_stock, highest_stock, lowest_ratio, highest_ratio).
inline constexpr char kInsertMarkets[] = R"sql(
INSERT INTO poe_exchange_raw (realm, hour, league, market_id, volume_traded, lowest_stock,
                              highest_stock, lowest_ratio, highest_ratio, ingested_at)
SELECT $1, $2, m.league, m.market_id, m.volume_traded, m.lowest_stock, m.highest_stock,
       m.lowest_ratio, m.highest_ratio, $3::timestamptz
  FROM jsonb_to_recordset($4::jsonb) AS m(league text, market_id text, volume_traded jsonb,
                                          lowest_stock jsonb, highest_stock jsonb,
                                          lowest_ratio jsonb, highest_ratio jsonb)
ON CONFLICT (realm, hour, league, market_id) DO NOTHING)sql";

// Every hour in [from, to), one hour apart. $1 realm, $2 from, $3 to, $4 now.
inline constexpr char kInsertGaps[] = R"sql(
INSERT INTO poe_exchange_gaps (realm, hour, detected_at)
SELECT $1, h, $4::timestamptz FROM generate_series($2::bigint, $3::bigint - 1, 3600) AS h
ON CONFLICT (realm, hour) DO NOTHING)sql";

}  // namespace sluice::stream_sql

#endif  // SLUICE_SERVER_WORKFLOWS_STREAMS_STREAM_SQL_H_
