// Every statement of the ETL module by name, in one place: the silver/gold
// transforms (currency_transform.h, stash_transform.h; their checkpoints go
// through CheckpointStore), the ingest status reader (ingest_status.h) and
// the alert store (alert_store.h).
//
// Rows of many stashes, items or streams are passed as one JSON array; values
// are always bound. A raw table's name is spelled here, once per statement,
// never taken from input.
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_ETL_SQL_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_ETL_SQL_H_

namespace sluice::etl_sql {

// --- the currency transform (CurrencyTransform) ----------------------------

// No parameters.
inline constexpr char kExchangeMaxRawId[] = R"sql(
SELECT coalesce(max(raw_id), 0) FROM poe_exchange_raw)sql";

// NULL ratios come back as the JSON text 'null'. $1 after raw_id, $2 up to
// raw_id, $3 limit.
inline constexpr char kReadExchangeRaw[] = R"sql(
SELECT raw_id, realm, hour, league, market_id, volume_traded::text,
       coalesce(lowest_ratio::text, 'null'), coalesce(highest_ratio::text, 'null')
  FROM poe_exchange_raw WHERE raw_id > $1 AND raw_id <= $2 ORDER BY raw_id LIMIT $3)sql";

// $1 rows (JSON: realm, league, currency, hour, ratio, volume, chaos_volume,
// market_id, raw_id).
inline constexpr char kUpsertCurrencySnapshot[] = R"sql(
INSERT INTO gold_currency_snapshot AS g (realm, league, currency, hour, ratio_to_chaos, volume,
                                         chaos_volume, market_id, raw_id)
SELECT realm, league, currency, hour, ratio, volume, chaos_volume, market_id, raw_id
FROM jsonb_to_recordset($1::jsonb) AS t(realm text, league text, currency text, hour bigint,
                                        ratio float8, volume float8, chaos_volume float8,
                                        market_id text, raw_id bigint)
ON CONFLICT (realm, league, currency, hour) DO UPDATE SET
  ratio_to_chaos = EXCLUDED.ratio_to_chaos, volume = EXCLUDED.volume,
  chaos_volume = EXCLUDED.chaos_volume, market_id = EXCLUDED.market_id, raw_id = EXCLUDED.raw_id
)sql";

// --- the stash transform (StashTransform) ----------------------------------

// No parameters.
inline constexpr char kStashMaxRawId[] = R"sql(
SELECT coalesce(max(raw_id), 0) FROM poe_stash_raw)sql";

// $1 after raw_id, $2 up to raw_id, $3 limit.
inline constexpr char kReadStashRaw[] = R"sql(
SELECT raw_id, realm, league, stash_id, change_id, account_name, stash_name, stash_type,
       public, items::text, ingested_at::text
  FROM poe_stash_raw WHERE raw_id > $1 AND raw_id <= $2 ORDER BY raw_id LIMIT $3)sql";

// The silver league of the given stashes. $1 realms, $2 stash ids (pairwise).
inline constexpr char kReadStashLeagues[] = R"sql(
SELECT s.realm, s.stash_id, s.league FROM poe_stash_silver s
  JOIN unnest($1::text[], $2::text[]) AS k(realm, stash_id)
    ON s.realm = k.realm AND s.stash_id = k.stash_id)sql";

// The priced items of the given stashes. $1 realms, $2 stash ids (pairwise).
inline constexpr char kReadStashItems[] = R"sql(
SELECT p.realm, p.stash_id, p.item_id, p.price_kind, p.price_amount, p.price_currency,
       p.listed_at::text
  FROM poe_item_price_silver p
  JOIN unnest($1::text[], $2::text[]) AS k(realm, stash_id)
    ON p.realm = k.realm AND p.stash_id = k.stash_id)sql";

// $1 realms, $2 stash ids (pairwise).
inline constexpr char kDeleteStashItems[] = R"sql(
DELETE FROM poe_item_price_silver p USING unnest($1::text[], $2::text[]) AS k(realm, stash_id)
 WHERE p.realm = k.realm AND p.stash_id = k.stash_id)sql";

// Each item valued with the rate of the latest hour that had ended by its
// version's ingestion. $1 rows (JSON: ItemPriceRow's fields).
inline constexpr char kInsertItemPrices[] = R"sql(
INSERT INTO poe_item_price_silver AS p (realm, item_id, league, stash_id, name, type_line,
    base_type, stack_size, price_kind, price_source, price_amount, price_currency,
    price_in_chaos, rate_hour, no_rate_reason, listed_at, updated_at, raw_id)
SELECT t.realm, t.item_id, t.league, t.stash_id, t.name, t.type_line, t.base_type, t.stack_size,
       t.price_kind, t.price_source, t.price_amount, t.price_currency,
       CASE WHEN t.price_currency = 'chaos' THEN t.price_amount
            ELSE t.price_amount * r.ratio_to_chaos END,
       CASE WHEN t.price_currency = 'chaos' THEN NULL ELSE r.hour END,
       CASE WHEN t.price_currency = 'chaos' OR r.ratio_to_chaos IS NOT NULL THEN NULL
            ELSE format('no %s rate in chaos for league %s in any hour ended by %s',
                        t.price_currency, quote_literal(t.league), t.updated_at) END,
       t.listed_at::timestamptz, t.updated_at::timestamptz, t.raw_id
FROM jsonb_to_recordset($1::jsonb) AS t(realm text, item_id text, league text, stash_id text,
     name text, type_line text, base_type text, stack_size int, price_kind text,
     price_source text, price_amount float8, price_currency text, listed_at text,
     updated_at text, raw_id bigint)
LEFT JOIN LATERAL (
  SELECT g.hour, g.ratio_to_chaos FROM gold_currency_snapshot g
  WHERE g.realm = t.realm AND g.league = t.league AND g.currency = t.price_currency
    AND g.hour + 3600 <= extract(epoch FROM t.updated_at::timestamptz)
  ORDER BY g.hour DESC LIMIT 1) r ON true
ON CONFLICT (realm, item_id) DO UPDATE SET
  league = EXCLUDED.league, stash_id = EXCLUDED.stash_id, name = EXCLUDED.name,
  type_line = EXCLUDED.type_line, base_type = EXCLUDED.base_type,
  stack_size = EXCLUDED.stack_size, price_kind = EXCLUDED.price_kind,
  price_source = EXCLUDED.price_source, price_amount = EXCLUDED.price_amount,
  price_currency = EXCLUDED.price_currency, price_in_chaos = EXCLUDED.price_in_chaos,
  rate_hour = EXCLUDED.rate_hour, no_rate_reason = EXCLUDED.no_rate_reason,
  listed_at = EXCLUDED.listed_at, updated_at = EXCLUDED.updated_at, raw_id = EXCLUDED.raw_id
)sql";

// $1 rows (JSON: StashSilverRow's fields).
inline constexpr char kUpsertStashSilver[] = R"sql(
INSERT INTO poe_stash_silver AS s (realm, stash_id, league, account_name, stash_name,
    stash_type, public, item_count, priced_items, change_id, raw_id, updated_at)
SELECT realm, stash_id, league, account_name, stash_name, stash_type, public, item_count,
       priced_items, change_id, raw_id, updated_at::timestamptz
FROM jsonb_to_recordset($1::jsonb) AS t(realm text, stash_id text, league text,
     account_name text, stash_name text, stash_type text, public boolean, item_count int,
     priced_items int, change_id text, raw_id bigint, updated_at text)
ON CONFLICT (realm, stash_id) DO UPDATE SET
  league = EXCLUDED.league, account_name = EXCLUDED.account_name,
  stash_name = EXCLUDED.stash_name, stash_type = EXCLUDED.stash_type, public = EXCLUDED.public,
  item_count = EXCLUDED.item_count, priced_items = EXCLUDED.priced_items,
  change_id = EXCLUDED.change_id, raw_id = EXCLUDED.raw_id, updated_at = EXCLUDED.updated_at
)sql";

// Recomputed from the silver tables. Sums in numeric so the total does not
// depend on the order rows are read. $1 realms, $2 leagues (pairwise).
inline constexpr char kUpsertStashSummary[] = R"sql(
INSERT INTO gold_stash_summary AS g (realm, league, stashes, public_stashes, priced_items,
    valued_items, total_chaos, updated_at)
SELECT k.realm, k.league, s.stashes, s.public_stashes, i.priced, i.valued, i.total, s.updated_at
FROM unnest($1::text[], $2::text[]) AS k(realm, league)
CROSS JOIN LATERAL (
  SELECT count(*) AS stashes, count(*) FILTER (WHERE public) AS public_stashes,
         max(updated_at) AS updated_at
  FROM poe_stash_silver WHERE realm = k.realm AND league = k.league) s
CROSS JOIN LATERAL (
  SELECT count(*) AS priced, count(price_in_chaos) AS valued,
         coalesce(sum(price_in_chaos::numeric), 0)::float8 AS total
  FROM poe_item_price_silver WHERE realm = k.realm AND league = k.league) i
ON CONFLICT (realm, league) DO UPDATE SET
  stashes = EXCLUDED.stashes, public_stashes = EXCLUDED.public_stashes,
  priced_items = EXCLUDED.priced_items, valued_items = EXCLUDED.valued_items,
  total_chaos = EXCLUDED.total_chaos, updated_at = EXCLUDED.updated_at
)sql";

// --- the ingest status reader (IngestStatusReader) --------------------------

// Times as unix seconds. $1 stream ('' = every stream).
inline constexpr char kStatusCheckpoints[] = R"sql(
SELECT stream, cursor, extract(epoch FROM created_at)::float8,
       extract(epoch FROM updated_at)::float8, extract(epoch FROM polled_at)::float8,
       extract(epoch FROM head_at)::float8, pages, rows, empty_polls
  FROM checkpoints WHERE $1 = '' OR stream = $1 ORDER BY stream)sql";

// Accepted pages and their rows, and refused rewinds, within the window.
// $1 now, $2 window seconds, $3 stream ('' = every stream).
inline constexpr char kStatusTransitions[] = R"sql(
SELECT stream, count(*) FILTER (WHERE accepted),
       coalesce(sum(rows) FILTER (WHERE accepted), 0), count(*) FILTER (WHERE NOT accepted)
  FROM checkpoint_transitions
 WHERE at > $1::timestamptz - make_interval(secs => $2) AND at <= $1::timestamptz
   AND ($3 = '' OR stream = $3)
 GROUP BY stream)sql";

// Errors ever, within the window, and 429s within the window. $1 now, $2
// window seconds, $3 stream ('' = every stream).
inline constexpr char kStatusErrors[] = R"sql(
SELECT stream, count(*),
       count(*) FILTER (WHERE at > $1::timestamptz - make_interval(secs => $2)),
       count(*) FILTER (WHERE at > $1::timestamptz - make_interval(secs => $2)
                        AND http_status = 429)
  FROM stream_errors WHERE at <= $1::timestamptz AND ($3 = '' OR stream = $3)
 GROUP BY stream)sql";

// Newest first, as unix seconds. $1 now, $2 storm window seconds, $3 stream
// ('' = every stream).
inline constexpr char kStatus429s[] = R"sql(
SELECT stream, extract(epoch FROM at)::float8 FROM stream_errors
 WHERE http_status = 429 AND at > $1::timestamptz - make_interval(secs => $2)
   AND at <= $1::timestamptz AND ($3 = '' OR stream = $3)
 ORDER BY at DESC LIMIT 10000)sql";

// Raw rows past a transform's cursor, counted up to a bound: beyond it the
// figure only needs to say "many". $1 cursor (raw_id).
inline constexpr char kStashPendingRows[] = R"sql(
SELECT count(*) FROM (SELECT 1 FROM poe_stash_raw WHERE raw_id > $1 LIMIT 1000000) p)sql";
inline constexpr char kExchangePendingRows[] = R"sql(
SELECT count(*) FROM (SELECT 1 FROM poe_exchange_raw WHERE raw_id > $1 LIMIT 1000000) p)sql";

// When the oldest raw row past a transform's cursor was ingested, as unix
// seconds. $1 cursor (raw_id).
inline constexpr char kStashFirstPending[] = R"sql(
SELECT extract(epoch FROM ingested_at)::float8 FROM poe_stash_raw
 WHERE raw_id > $1 ORDER BY raw_id LIMIT 1)sql";
inline constexpr char kExchangeFirstPending[] = R"sql(
SELECT extract(epoch FROM ingested_at)::float8 FROM poe_exchange_raw
 WHERE raw_id > $1 ORDER BY raw_id LIMIT 1)sql";

// Streams no longer in the snapshot. $1 rows (JSON: stream, ...).
inline constexpr char kDeleteStaleStatus[] = R"sql(
DELETE FROM poe_ingest_status WHERE stream NOT IN
  (SELECT stream FROM jsonb_to_recordset($1::jsonb) AS t(stream text)))sql";

// $1 rows (JSON: one object per stream, the table's columns but
// refreshed_at), $2 now.
inline constexpr char kUpsertStatus[] = R"sql(
INSERT INTO poe_ingest_status (stream, kind, cursor, updated_at, polled_at, head_at, lag_seconds,
    pages_total, rows_total, empty_polls_total, pages_5m, rows_5m, requests_per_min, errors_5m,
    errors_total, http_429_5m, rejected_rewinds, pending_rows, refreshed_at)
SELECT stream, kind, cursor, updated_at::timestamptz, polled_at::timestamptz, head_at::timestamptz,
       lag_seconds, pages_total, rows_total, empty_polls_total, pages_5m, rows_5m,
       requests_per_min, errors_5m, errors_total, http_429_5m, rejected_rewinds, pending_rows,
       $2::timestamptz
FROM jsonb_to_recordset($1::jsonb) AS t(stream text, kind text, cursor text, updated_at text,
     polled_at text, head_at text, lag_seconds float8, pages_total bigint, rows_total bigint,
     empty_polls_total bigint, pages_5m bigint, rows_5m bigint, requests_per_min float8,
     errors_5m bigint, errors_total bigint, http_429_5m bigint, rejected_rewinds bigint,
     pending_rows bigint)
ON CONFLICT (stream) DO UPDATE SET
  kind = EXCLUDED.kind, cursor = EXCLUDED.cursor, updated_at = EXCLUDED.updated_at,
  polled_at = EXCLUDED.polled_at, head_at = EXCLUDED.head_at, lag_seconds = EXCLUDED.lag_seconds,
  pages_total = EXCLUDED.pages_total, rows_total = EXCLUDED.rows_total,
  empty_polls_total = EXCLUDED.empty_polls_total, pages_5m = EXCLUDED.pages_5m,
  rows_5m = EXCLUDED.rows_5m, requests_per_min = EXCLUDED.requests_per_min,
  errors_5m = EXCLUDED.errors_5m, errors_total = EXCLUDED.errors_total,
  http_429_5m = EXCLUDED.http_429_5m, rejected_rewinds = EXCLUDED.rejected_rewinds,
  pending_rows = EXCLUDED.pending_rows, refreshed_at = EXCLUDED.refreshed_at
)sql";

// --- the alert store (AlertStore) -------------------------------------------

// Alerts whose latest event is 'firing'; since as unix seconds. No
// parameters.
inline constexpr char kFiringAlerts[] = R"sql(
SELECT alert_key, rule, stream, message, extract(epoch FROM since)::float8
  FROM (SELECT DISTINCT ON (alert_key) * FROM alert_events ORDER BY alert_key, id DESC) e
 WHERE state = 'firing')sql";

// $1 key, $2 rule, $3 stream, $4 state ('firing' or 'resolved'), $5 message,
// $6 since, $7 now.
inline constexpr char kInsertAlertEvent[] = R"sql(
INSERT INTO alert_events (alert_key, rule, stream, state, message, since, at)
VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $7::timestamptz))sql";

// Newest first; times as unix seconds. $1 limit.
inline constexpr char kAlertHistory[] = R"sql(
SELECT id, rule, stream, state, message, extract(epoch FROM since)::float8,
       extract(epoch FROM at)::float8
  FROM alert_events ORDER BY id DESC LIMIT $1)sql";

}  // namespace sluice::etl_sql

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_ETL_SQL_H_
