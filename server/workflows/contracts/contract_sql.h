// Every statement of the contract workflow by name: the listing reads
// (contract_listing.h), the completions' writes (contract_store.h) and the
// aggregation run (contract_aggregation_job.h).
//
// A region's refresh is counted on its open contract_region_runs row (the
// one with finished_at NULL) while the run that opened it is in progress;
// every statement that counts names that row the same way. Rows of many
// contracts, items or pages are passed as one JSON array; values are always
// bound.
#ifndef SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_SQL_H_
#define SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_SQL_H_

namespace sluice::contract_sql {

// --- the listing (contract_listing.h) --------------------------------------

// Pages with an ETag, for the region leases' If-None-Match. $1 region ids.
inline constexpr char kPageEtags[] = R"sql(
SELECT region_id, page, etag FROM contract_region_pages
 WHERE region_id = ANY($1::bigint[]) AND etag <> '' ORDER BY region_id, page)sql";

// The ids each stored page listed ("1,2,3"). $1 region.
inline constexpr char kStoredPageIds[] = R"sql(
SELECT page, array_to_string(contract_ids, ',') FROM contract_region_pages
 WHERE region_id = $1)sql";

// --- a region's listing (ContractStore::ApplyRegion) ------------------------

// Locks the region's open run row (a no-op update, so concurrent completions
// for the region count in turn) and returns its run id; none if no run is
// open. $1 region.
inline constexpr char kLockOpenRun[] = R"sql(
UPDATE contract_region_runs SET region_done_at = region_done_at
 WHERE region_id = $1 AND finished_at IS NULL RETURNING run_id)sql";

// $1 contracts (JSON: PublicContract's fields, dates as RFC 3339), $2 region,
// $3 now.
inline constexpr char kUpsertContracts[] = R"sql(
INSERT INTO contracts (contract_id, region_id, type, issuer_id, issuer_corporation_id, price,
                       reward, collateral, buyout, volume, date_issued, date_expired,
                       days_to_complete, start_location_id, end_location_id, for_corporation,
                       title, first_seen_at, last_seen_at, last_modified)
SELECT x.contract_id, $2, x.type, x.issuer_id, x.issuer_corporation_id, x.price, x.reward,
       x.collateral, x.buyout, x.volume, x.date_issued::timestamptz, x.date_expired::timestamptz,
       x.days_to_complete, x.start_location_id, x.end_location_id, x.for_corporation, x.title,
       $3::timestamptz, $3::timestamptz, $3::timestamptz
  FROM jsonb_to_recordset($1::jsonb) AS x(
         contract_id BIGINT, type TEXT, issuer_id BIGINT, issuer_corporation_id BIGINT,
         price NUMERIC, reward NUMERIC, collateral NUMERIC, buyout NUMERIC,
         volume DOUBLE PRECISION, date_issued TEXT, date_expired TEXT, days_to_complete INT,
         start_location_id BIGINT, end_location_id BIGINT, for_corporation BOOLEAN, title TEXT)
 ORDER BY x.contract_id
ON CONFLICT (contract_id) DO UPDATE SET
  region_id = EXCLUDED.region_id, type = EXCLUDED.type, issuer_id = EXCLUDED.issuer_id,
  issuer_corporation_id = EXCLUDED.issuer_corporation_id, price = EXCLUDED.price,
  reward = EXCLUDED.reward, collateral = EXCLUDED.collateral, buyout = EXCLUDED.buyout,
  volume = EXCLUDED.volume, date_issued = EXCLUDED.date_issued,
  date_expired = EXCLUDED.date_expired, days_to_complete = EXCLUDED.days_to_complete,
  start_location_id = EXCLUDED.start_location_id, end_location_id = EXCLUDED.end_location_id,
  for_corporation = EXCLUDED.for_corporation, title = EXCLUDED.title,
  last_seen_at = EXCLUDED.last_seen_at, last_modified = EXCLUDED.last_modified)sql";

// $1 run id ('' = none), $2 region, $3 contract (0 = its id was unreadable),
// $4 reason, $5 now.
inline constexpr char kRecordSkip[] = R"sql(
INSERT INTO contract_skips (run_id, region_id, contract_id, reason, skipped_at)
VALUES (NULLIF($1, ''), $2, NULLIF($3, 0), $4, $5::timestamptz))sql";

// Contracts the region no longer lists. $1 region, $2 listed ids.
inline constexpr char kDeleteUnlisted[] = R"sql(
DELETE FROM contracts WHERE region_id = $1 AND NOT (contract_id = ANY($2::bigint[])))sql";

// $1 region, $2 pages (JSON: page, etag, ids), $3 now.
inline constexpr char kUpsertPages[] = R"sql(
INSERT INTO contract_region_pages (region_id, page, etag, contract_ids, fetched_at)
SELECT $1, x.page, x.etag,
       ARRAY(SELECT jsonb_array_elements_text(x.ids)::bigint), $3::timestamptz
  FROM jsonb_to_recordset($2::jsonb) AS x(page INT, etag TEXT, ids JSONB)
 ORDER BY x.page
ON CONFLICT (region_id, page) DO UPDATE SET
  etag = EXCLUDED.etag, contract_ids = EXCLUDED.contract_ids, fetched_at = EXCLUDED.fetched_at)sql";

// Each page's Expires from the read just applied (304 pages too). $1 region,
// $2 JSON [{page, expires}].
inline constexpr char kSetPageExpires[] = R"sql(
UPDATE contract_region_pages p SET expires_at = x.expires::timestamptz
  FROM jsonb_to_recordset($2::jsonb) AS x(page INT, expires TEXT)
 WHERE p.region_id = $1 AND p.page = x.page)sql";

// Pages past the listing's end (it got shorter). $1 region, $2 pages total.
inline constexpr char kDeletePagesAfter[] =
    "DELETE FROM contract_region_pages WHERE region_id = $1 AND page > $2";

// Listed contracts whose items are still to fetch: only item exchanges and
// auctions have items, and one whose items cannot be had (items_error) is
// not asked again. $1 region, $2 listed ids.
inline constexpr char kContractsNeedingItems[] = R"sql(
SELECT contract_id FROM contracts
 WHERE region_id = $1 AND items_fetched_at IS NULL AND items_error IS NULL
   AND type IN ('item_exchange', 'auction') AND contract_id = ANY($2::bigint[])
 ORDER BY contract_id)sql";

// $1 region, $2 now, $3 pages, $4 pages not modified, $5 contracts upserted,
// $6 deleted, $7 skipped, $8 item lists queued.
inline constexpr char kCountRegionDone[] = R"sql(
UPDATE contract_region_runs SET region_done_at = $2::timestamptz, pages = pages + $3,
       pages_not_modified = pages_not_modified + $4,
       contracts_upserted = contracts_upserted + $5, contracts_deleted = contracts_deleted + $6,
       contracts_skipped = contracts_skipped + $7, items_queued = items_queued + $8
 WHERE region_id = $1 AND finished_at IS NULL)sql";

// $1 region, $2 error ("dead: ..." or "retrying: ...").
inline constexpr char kCountRegionError[] = R"sql(
UPDATE contract_region_runs SET errors = errors + 1, detail = $2
 WHERE region_id = $1 AND finished_at IS NULL)sql";

// --- a contract's items (ContractStore::ApplyItems) -------------------------

// Before a batch's item lists are written: the open run rows of every region
// their contracts are in, locked in region order (the lock kLockOpenRun's
// no-op update takes). A region's listing locks its run row before its
// contracts, so item lists must too: an item list that locked its contract
// first and then waited for the run row deadlocked with a listing holding
// the run row and waiting for that contract, and two batches reaching two
// regions in opposite orders deadlocked over the run rows. $1 contracts.
inline constexpr char kLockRunsOfContracts[] = R"sql(
SELECT r.region_id FROM contract_region_runs r
 WHERE r.finished_at IS NULL
   AND r.region_id IN (SELECT c.region_id FROM contracts c WHERE c.contract_id = ANY($1::bigint[]))
 ORDER BY r.region_id, r.run_id
   FOR NO KEY UPDATE OF r)sql";

// Its region; locked, so a listing that drops it waits. $1 contract.
inline constexpr char kLockContract[] =
    "SELECT region_id FROM contracts WHERE contract_id = $1 FOR UPDATE";

// An item list that answered 304. $1 region.
inline constexpr char kCountItemsNotModified[] = R"sql(
UPDATE contract_region_runs SET item_calls = item_calls + 1,
       items_not_modified = items_not_modified + 1
 WHERE region_id = $1 AND finished_at IS NULL)sql";

// $1 region, $2 item rows written.
inline constexpr char kCountItems[] = R"sql(
UPDATE contract_region_runs SET item_calls = item_calls + 1, item_rows = item_rows + $2
 WHERE region_id = $1 AND finished_at IS NULL)sql";

// $1 contract.
inline constexpr char kDeleteItems[] = "DELETE FROM contract_items WHERE contract_id = $1";

// $1 contract, $2 items (JSON: PublicContractItem's fields).
inline constexpr char kInsertItems[] = R"sql(
INSERT INTO contract_items (contract_id, record_id, type_id, quantity, is_included, is_singleton,
                            is_blueprint_copy, material_efficiency, time_efficiency, runs, item_id)
SELECT $1, x.record_id, x.type_id, x.quantity, x.is_included, x.is_singleton,
       x.is_blueprint_copy, x.material_efficiency, x.time_efficiency, x.runs, x.item_id
  FROM jsonb_to_recordset($2::jsonb) AS x(
         record_id BIGINT, type_id BIGINT, quantity BIGINT, is_included BOOLEAN,
         is_singleton BOOLEAN, is_blueprint_copy BOOLEAN, material_efficiency INT,
         time_efficiency INT, runs INT, item_id BIGINT)
ON CONFLICT (contract_id, record_id) DO UPDATE SET
  type_id = EXCLUDED.type_id, quantity = EXCLUDED.quantity, is_included = EXCLUDED.is_included,
  is_singleton = EXCLUDED.is_singleton, is_blueprint_copy = EXCLUDED.is_blueprint_copy,
  material_efficiency = EXCLUDED.material_efficiency,
  time_efficiency = EXCLUDED.time_efficiency, runs = EXCLUDED.runs, item_id = EXCLUDED.item_id)sql";

// $1 contract, $2 now.
inline constexpr char kItemsFetched[] = R"sql(
UPDATE contracts SET items_fetched_at = $2::timestamptz, items_error = NULL,
       last_modified = $2::timestamptz
 WHERE contract_id = $1)sql";

// A contract whose items cannot be had (gone upstream, or skipped).
// $1 contract, $2 error, $3 now.
inline constexpr char kItemsFailed[] = R"sql(
UPDATE contracts SET items_error = $2, last_modified = $3::timestamptz
 WHERE contract_id = $1)sql";

// An item list given up on: counted as a skipped contract on its region's
// open run. Returns the region and that run's id ('' when none is open); no
// row when the contract is no longer listed. $1 contract.
inline constexpr char kCountItemsSkipped[] = R"sql(
WITH c AS (SELECT region_id FROM contracts WHERE contract_id = $1),
     r AS (UPDATE contract_region_runs SET contracts_skipped = contracts_skipped + 1
            WHERE region_id = (SELECT region_id FROM c) AND finished_at IS NULL
           RETURNING run_id)
SELECT c.region_id, COALESCE((SELECT min(run_id) FROM r), '') FROM c)sql";

// --- classification (ContractStore::Classify) -------------------------------

// What the ship rule reads: each contract with items, its items in record
// order and each item type's group (NULL while the type is not cached); a
// contract with no items has one row of NULL items. $1 contract ids.
inline constexpr char kClassificationItems[] = R"sql(
SELECT c.contract_id, c.type, i.type_id, i.quantity, i.is_included, i.is_singleton,
       i.is_blueprint_copy, i.runs, i.material_efficiency, i.time_efficiency, u.group_id
  FROM contracts c
  LEFT JOIN contract_items i ON i.contract_id = c.contract_id
  LEFT JOIN universe_types u ON u.type_id = i.type_id
 WHERE c.contract_id = ANY($1::bigint[]) AND c.items_fetched_at IS NOT NULL
 ORDER BY c.contract_id, i.record_id)sql";

// $1 verdicts (JSON: contract_id, is_ship, ship_type_id, quantity, bpc, runs,
// me, te, additional), $2 now.
inline constexpr char kWriteClassification[] = R"sql(
UPDATE contracts c SET
  is_ship_contract = x.is_ship, ship_type_id = x.ship_type_id, quantity = x.quantity,
  is_blueprint_copy = x.bpc, runs = x.runs, material_efficiency = x.me,
  time_efficiency = x.te, contains_additional_items = x.additional,
  last_modified = $2::timestamptz
  FROM jsonb_to_recordset($1::jsonb) AS x(
         contract_id BIGINT, is_ship BOOLEAN, ship_type_id BIGINT, quantity BIGINT,
         bpc BOOLEAN, runs INT, me INT, te INT, additional BOOLEAN)
 WHERE c.contract_id = x.contract_id)sql";

// Contracts with items and no verdict yet, in the regions. $1 region ids.
inline constexpr char kUnclassifiedInRegions[] = R"sql(
SELECT contract_id FROM contracts
 WHERE is_ship_contract IS NULL AND items_fetched_at IS NOT NULL
   AND region_id = ANY($1::bigint[]))sql";

// $1 contract ids.
inline constexpr char kCountUnclassified[] = R"sql(
SELECT count(*) FROM contracts
 WHERE is_ship_contract IS NULL AND contract_id = ANY($1::bigint[]))sql";

// --- the type cache (ContractStore::ApplyType, TypeFailed) ------------------

// A 304: the cached type is current. $1 type, $2 now.
inline constexpr char kTypeNotModified[] = R"sql(
UPDATE universe_types SET last_refreshed_at = $2::timestamptz, refresh_failures = 0,
       last_error = NULL, last_modified = $2::timestamptz
 WHERE type_id = $1)sql";

// $1 type, $2 name, $3 group, $4 published, $5 volume, $6 packaged volume,
// $7 market group (each of $5..$7 may be NULL), $8 now.
inline constexpr char kUpsertType[] = R"sql(
INSERT INTO universe_types (type_id, name, group_id, published, volume, packaged_volume,
                            market_group_id, last_refreshed_at, refresh_failures, last_error,
                            last_modified)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz, 0, NULL, $8::timestamptz)
ON CONFLICT (type_id) DO UPDATE SET
  name = EXCLUDED.name, group_id = EXCLUDED.group_id, published = EXCLUDED.published,
  volume = EXCLUDED.volume, packaged_volume = EXCLUDED.packaged_volume,
  market_group_id = EXCLUDED.market_group_id, last_refreshed_at = EXCLUDED.last_refreshed_at,
  refresh_failures = 0, last_error = NULL, last_modified = EXCLUDED.last_modified)sql";

// Contracts with items and no verdict that hold the type. $1 type.
inline constexpr char kContractsAwaitingType[] = R"sql(
SELECT DISTINCT c.contract_id FROM contract_items i
  JOIN contracts c ON c.contract_id = i.contract_id
 WHERE i.type_id = $1 AND c.is_ship_contract IS NULL AND c.items_fetched_at IS NOT NULL)sql";

// The refresh time moves on failure too, so the next run's refresh batch
// does not pick the type again at once. $1 type, $2 now, $3 error.
inline constexpr char kTypeFailed[] = R"sql(
UPDATE universe_types SET last_refreshed_at = $2::timestamptz,
       refresh_failures = refresh_failures + 1, last_error = $3
 WHERE type_id = $1
RETURNING refresh_failures)sql";

// --- the aggregation run (ContractAggregationJob) ---------------------------

// The oldest cached types not refreshed since the cutoff. $1 cutoff, $2 limit.
inline constexpr char kStaleTypes[] = R"sql(
SELECT type_id FROM universe_types WHERE last_refreshed_at < $1::timestamptz
 ORDER BY last_refreshed_at, type_id LIMIT $2)sql";

// Rows a previous run could not close (its coordinator died) stop collecting
// counts. $1 region ids, $2 now.
inline constexpr char kAbandonOpenRuns[] = R"sql(
UPDATE contract_region_runs SET finished_at = $2::timestamptz,
       detail = COALESCE(detail || '; ', '') || 'abandoned: a later run started'
 WHERE region_id = ANY($1::bigint[]) AND finished_at IS NULL)sql";

// $1 run id, $2 region ids, $3 now.
inline constexpr char kOpenRuns[] = R"sql(
INSERT INTO contract_region_runs (run_id, region_id, queued_at)
SELECT $1, r, $3::timestamptz FROM unnest($2::bigint[]) AS r)sql";

// The run's work, for its wait: the contracts listed in its regions, and the
// types their unclassified contracts wait for. $1 region ids.
inline constexpr char kRegionContracts[] =
    "SELECT contract_id FROM contracts WHERE region_id = ANY($1::bigint[])";
// $1 region ids.
inline constexpr char kAwaitedTypes[] = R"sql(
SELECT DISTINCT i.type_id FROM contract_items i JOIN contracts c ON c.contract_id = i.contract_id
 WHERE c.region_id = ANY($1::bigint[]) AND c.is_ship_contract IS NULL)sql";

// Closes the run's rows and returns their counts. $1 run id, $2 now.
inline constexpr char kCloseRuns[] = R"sql(
UPDATE contract_region_runs SET finished_at = $2::timestamptz WHERE run_id = $1
RETURNING region_id, region_done_at IS NOT NULL, pages, pages_not_modified, contracts_upserted,
          contracts_deleted, contracts_skipped, items_queued, item_calls, items_not_modified,
          item_rows, errors, COALESCE(detail, ''))sql";

// Of the refresh batch, the types refreshed since the run started: ok and
// failed. $1 type ids, $2 run start.
inline constexpr char kTypeRefreshOutcome[] = R"sql(
SELECT count(*) FILTER (WHERE refresh_failures = 0), count(*) FILTER (WHERE refresh_failures > 0)
  FROM universe_types
 WHERE type_id = ANY($1::bigint[]) AND last_refreshed_at >= $2::timestamptz)sql";

}  // namespace sluice::contract_sql

#endif  // SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_SQL_H_
