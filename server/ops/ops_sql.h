// The ops snapshot's own statements by name (CollectOpsSnapshot). Queue
// depth, jobs and budgets come through their owners' APIs; only the stream
// checkpoints are read here.
#ifndef SLUICE_SERVER_OPS_OPS_SQL_H_
#define SLUICE_SERVER_OPS_OPS_SQL_H_

namespace sluice::ops_sql {

// The checkpoints table belongs to the streams module; before its migration
// there is nothing to show.
inline constexpr char kCheckpointsExist[] = "SELECT to_regclass('checkpoints') IS NOT NULL";

// $1 now.
inline constexpr char kCheckpoints[] = R"sql(
SELECT stream, cursor, EXTRACT(EPOCH FROM ($1::timestamptz - updated_at)), pages, rows
  FROM checkpoints ORDER BY stream)sql";

// The dashboard's panels (dashboard_panels.h). The PoE layers' tables come
// with one migration (0007): one check for all of them.
inline constexpr char kPoeLayersExist[] = "SELECT to_regclass('gold_stash_summary') IS NOT NULL";

// Each stream's health row as the ETL loop last wrote it. $1 now.
inline constexpr char kStreamHealth[] = R"sql(
SELECT stream, kind, lag_seconds, requests_per_min, rows_5m, errors_5m, http_429_5m, pending_rows,
       rejected_rewinds, EXTRACT(EPOCH FROM ($1::timestamptz - refreshed_at))::float8
  FROM poe_ingest_status ORDER BY stream LIMIT 200)sql";

// The latest hour of every league in gold_currency_snapshot, with its five
// currencies of most chaos volume: one row per (league, currency). The leagues
// are found by a skip scan of the (realm, league, hour) index, so the cost
// follows the number of leagues, not of hours kept.
inline constexpr char kLatestCurrencyPerLeague[] = R"sql(
WITH RECURSIVE leagues AS (
  (SELECT realm, league FROM gold_currency_snapshot ORDER BY realm, league LIMIT 1)
  UNION ALL
  SELECT n.realm, n.league FROM leagues l, LATERAL (
    SELECT realm, league FROM gold_currency_snapshot g
     WHERE (g.realm, g.league) > (l.realm, l.league) ORDER BY realm, league LIMIT 1) n
), latest AS (
  SELECT l.realm, l.league, h.hour FROM (SELECT * FROM leagues LIMIT 50) l, LATERAL (
    SELECT hour FROM gold_currency_snapshot g WHERE g.realm = l.realm AND g.league = l.league
     ORDER BY hour DESC LIMIT 1) h
)
SELECT a.realm, a.league, a.hour, t.currencies, t.chaos_volume, c.currency, c.ratio_to_chaos,
       c.chaos_volume
  FROM latest a
  CROSS JOIN LATERAL (
    SELECT count(*) AS currencies, coalesce(sum(chaos_volume), 0)::float8 AS chaos_volume
      FROM gold_currency_snapshot g
     WHERE g.realm = a.realm AND g.league = a.league AND g.hour = a.hour) t
  CROSS JOIN LATERAL (
    SELECT currency, ratio_to_chaos, chaos_volume FROM gold_currency_snapshot g
     WHERE g.realm = a.realm AND g.league = a.league AND g.hour = a.hour
     ORDER BY chaos_volume DESC, currency LIMIT 5) c
 ORDER BY a.realm, a.league, c.chaos_volume DESC, c.currency)sql";

// Stash valuation per league, the most valuable first; updated_at as unix
// seconds (NULL before any stash).
inline constexpr char kValuations[] = R"sql(
SELECT realm, league, stashes, public_stashes, priced_items, valued_items, total_chaos,
       EXTRACT(EPOCH FROM updated_at)::float8
  FROM gold_stash_summary ORDER BY total_chaos DESC, realm, league LIMIT 50)sql";

}  // namespace sluice::ops_sql

#endif  // SLUICE_SERVER_OPS_OPS_SQL_H_
