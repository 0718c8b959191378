#include "server/workflows/contracts/contract_store.h"

#include <glog/logging.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/time_util.h"
#include "server/scheduler/job.h"
#include "server/store/pg_pool.h"
#include "server/store/savepoint.h"
#include "server/workflows/contracts/ship_classifier.h"

namespace sluice {
namespace {

using nlohmann::json;

constexpr char kUpsertContracts[] = R"sql(
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

constexpr char kUpsertPages[] = R"sql(
INSERT INTO contract_region_pages (region_id, page, etag, contract_ids, fetched_at)
SELECT $1, x.page, x.etag,
       ARRAY(SELECT jsonb_array_elements_text(x.ids)::bigint), $3::timestamptz
  FROM jsonb_to_recordset($2::jsonb) AS x(page INT, etag TEXT, ids JSONB)
 ORDER BY x.page
ON CONFLICT (region_id, page) DO UPDATE SET
  etag = EXCLUDED.etag, contract_ids = EXCLUDED.contract_ids, fetched_at = EXCLUDED.fetched_at)sql";

constexpr char kInsertItems[] = R"sql(
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

constexpr char kClassificationItems[] = R"sql(
SELECT c.contract_id, c.type, i.type_id, i.quantity, i.is_included, i.is_singleton,
       i.is_blueprint_copy, i.runs, i.material_efficiency, i.time_efficiency, u.group_id
  FROM contracts c
  LEFT JOIN contract_items i ON i.contract_id = c.contract_id
  LEFT JOIN universe_types u ON u.type_id = i.type_id
 WHERE c.contract_id = ANY($1::bigint[]) AND c.items_fetched_at IS NOT NULL
 ORDER BY c.contract_id, i.record_id)sql";

constexpr char kWriteClassification[] = R"sql(
UPDATE contracts c SET
  is_ship_contract = x.is_ship, ship_type_id = x.ship_type_id, quantity = x.quantity,
  is_blueprint_copy = x.bpc, runs = x.runs, material_efficiency = x.me,
  time_efficiency = x.te, contains_additional_items = x.additional,
  last_modified = $2::timestamptz
  FROM jsonb_to_recordset($1::jsonb) AS x(
         contract_id BIGINT, is_ship BOOLEAN, ship_type_id BIGINT, quantity BIGINT,
         bpc BOOLEAN, runs INT, me INT, te INT, additional BOOLEAN)
 WHERE c.contract_id = x.contract_id)sql";

constexpr char kUpsertType[] = R"sql(
INSERT INTO universe_types (type_id, name, group_id, published, volume, packaged_volume,
                            market_group_id, last_refreshed_at, refresh_failures, last_error,
                            last_modified)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz, 0, NULL, $8::timestamptz)
ON CONFLICT (type_id) DO UPDATE SET
  name = EXCLUDED.name, group_id = EXCLUDED.group_id, published = EXCLUDED.published,
  volume = EXCLUDED.volume, packaged_volume = EXCLUDED.packaged_volume,
  market_group_id = EXCLUDED.market_group_id, last_refreshed_at = EXCLUDED.last_refreshed_at,
  refresh_failures = 0, last_error = NULL, last_modified = EXCLUDED.last_modified)sql";

// Adds counts to the region's open run row; returns its run id ("" if none).
std::string AddToRegionRun(pqxx::dbtransaction& txn, int64_t region_id,
                           const std::string& assignments) {
  // `assignments` is built from constants in this file, never from input.
  auto r = txn.exec_params("UPDATE contract_region_runs SET " + assignments +
                               " WHERE region_id = $1 AND finished_at IS NULL RETURNING run_id",
                           region_id);
  return r.empty() ? "" : r[0][0].c_str();
}

json OptionalDouble(bool has, double v) { return has ? json(v) : json(nullptr); }
json OptionalInt(bool has, int64_t v) { return has ? json(v) : json(nullptr); }

json ContractJson(const v1::PublicContract& c) {
  return {{"contract_id", c.contract_id()},
          {"type", c.type()},
          {"issuer_id", c.issuer_id()},
          {"issuer_corporation_id", c.issuer_corporation_id()},
          {"price", OptionalDouble(c.has_price(), c.price())},
          {"reward", OptionalDouble(c.has_reward(), c.reward())},
          {"collateral", OptionalDouble(c.has_collateral(), c.collateral())},
          {"buyout", OptionalDouble(c.has_buyout(), c.buyout())},
          {"volume", OptionalDouble(c.has_volume(), c.volume())},
          {"date_issued", FormatRfc3339(FromProto(c.date_issued()))},
          {"date_expired", FormatRfc3339(FromProto(c.date_expired()))},
          {"days_to_complete", OptionalInt(c.has_days_to_complete(), c.days_to_complete())},
          {"start_location_id", OptionalInt(c.has_start_location_id(), c.start_location_id())},
          {"end_location_id", OptionalInt(c.has_end_location_id(), c.end_location_id())},
          {"for_corporation", c.for_corporation()},
          {"title", c.title()}};
}

std::vector<int64_t> SplitIds(const std::string& text) {
  std::vector<int64_t> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int64_t id = 0;
    if (absl::SimpleAtoi(part, &id)) out.push_back(id);
  }
  return out;
}

// One line per skipped contract, with the run id when a run is open.
void LogSkip(const std::string& run_id, int64_t region_id, int64_t contract_id,
             const std::string& reason) {
  const std::string who =
      contract_id > 0 ? absl::StrCat("contract ", contract_id) : std::string("contract (no id)");
  if (run_id.empty()) {
    LOG(WARNING) << who << " skipped: " << reason << " (region " << region_id << ")";
  } else {
    JOB_LOG(WARNING, run_id) << who << " skipped: " << reason << " (region " << region_id << ")";
  }
}

}  // namespace

std::map<int64_t, std::vector<v1::ContractPageEtag>> ContractStore::PageEtags(
    pqxx::dbtransaction& txn, const std::vector<int64_t>& regions) const {
  std::map<int64_t, std::vector<v1::ContractPageEtag>> out;
  auto rows = txn.exec_params(
      "SELECT region_id, page, etag FROM contract_region_pages "
      "WHERE region_id = ANY($1::bigint[]) AND etag <> '' ORDER BY region_id, page",
      PgArray(regions));
  for (const auto& row : rows) {
    v1::ContractPageEtag e;
    e.set_page(row[1].as<int>());
    e.set_etag(row[2].c_str());
    out[row[0].as<int64_t>()].push_back(std::move(e));
  }
  return out;
}

void ContractStore::RecordSkip(pqxx::dbtransaction& txn, const std::string& run_id,
                               int64_t region_id, int64_t contract_id, const std::string& reason,
                               TimePoint now) const {
  LogSkip(run_id, region_id, contract_id, reason);
  txn.exec_params(
      "INSERT INTO contract_skips (run_id, region_id, contract_id, reason, skipped_at) "
      "VALUES (NULLIF($1, ''), $2, NULLIF($3, 0), $4, $5::timestamptz)",
      run_id, region_id, contract_id, reason.substr(0, 2000), FormatRfc3339(now));
}

int ContractStore::UpsertContracts(pqxx::dbtransaction& txn, int64_t region_id,
                                   const std::vector<const v1::PublicContract*>& contracts,
                                   TimePoint now) const {
  json rows = json::array();
  for (const v1::PublicContract* c : contracts) rows.push_back(ContractJson(*c));
  auto r = txn.exec_params(kUpsertContracts, rows.dump(), region_id, FormatRfc3339(now));
  return static_cast<int>(r.affected_rows());
}

absl::StatusOr<PayloadOutcome> ContractStore::ApplyRegion(pqxx::dbtransaction& txn,
                                                          int64_t region_id,
                                                          const v1::ContractRegionResult& result,
                                                          TimePoint now) const {
  if (result.pages_total() < 1 || result.pages_size() != result.pages_total()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "payload.pages: region ", region_id, " reports ", result.pages_size(), " page(s) of ",
        result.pages_total(), "; a listing is applied only when every page was read"));
  }
  const std::string run_id = AddToRegionRun(txn, region_id, "region_done_at = region_done_at");

  // The listed set: parsed and skipped ids of fresh pages, stored ids of 304s.
  std::map<int, std::vector<int64_t>> stored;
  for (const auto& row :
       txn.exec_params("SELECT page, array_to_string(contract_ids, ',') "
                       "FROM contract_region_pages WHERE region_id = $1",
                       region_id)) {
    stored[row[0].as<int>()] = SplitIds(row[1].c_str());
  }
  std::set<int64_t> listed;
  json fresh_pages = json::array();
  int not_modified = 0;
  for (const v1::ContractPageResult& page : result.pages()) {
    if (page.not_modified()) {
      auto it = stored.find(page.page());
      if (it == stored.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("payload.pages: region ", region_id, " page ", page.page(),
                         " answered 304 but no listing is stored for it"));
      }
      listed.insert(it->second.begin(), it->second.end());
      ++not_modified;
      continue;
    }
    listed.insert(page.contract_ids().begin(), page.contract_ids().end());
    fresh_pages.push_back({{"page", page.page()},
                           {"etag", page.etag()},
                           {"ids", std::vector<int64_t>(page.contract_ids().begin(),
                                                        page.contract_ids().end())}});
  }

  // Contracts, deduplicated (a contract may move between pages while they
  // are read), in batches; a batch the database refuses is redone one
  // contract at a time so only the poison is skipped.
  std::map<int64_t, const v1::PublicContract*> unique;
  for (const v1::PublicContract& c : result.contracts()) unique[c.contract_id()] = &c;
  std::vector<const v1::PublicContract*> all;
  for (const auto& [id, c] : unique) all.push_back(c);
  int upserted = 0;
  int skipped = 0;
  const size_t batch = static_cast<size_t>(std::max(1, settings_.batch_size));
  for (size_t start = 0; start < all.size(); start += batch) {
    std::vector<const v1::PublicContract*> part(
        all.begin() + start, all.begin() + std::min(all.size(), start + batch));
    // Deadlocks and serialisation failures are not poison: UnderSavepoint
    // rethrows them and the whole completion batch is retried.
    absl::StatusOr<int> written = UnderSavepoint(txn, "sluice_contract_batch", "contracts", [&] {
      return absl::StatusOr<int>(UpsertContracts(txn, region_id, part, now));
    });
    if (written.ok()) {
      upserted += *written;
      continue;
    }
    VLOG(1) << "region " << region_id << ": a batch of " << part.size()
            << " contracts was refused (" << written.status() << "); isolating";
    for (const v1::PublicContract* c : part) {
      absl::StatusOr<int> one = UnderSavepoint(txn, "sluice_contract_one", "contract", [&] {
        return absl::StatusOr<int>(UpsertContracts(txn, region_id, {c}, now));
      });
      if (one.ok()) {
        upserted += *one;
        continue;
      }
      RecordSkip(txn, run_id, region_id, c->contract_id(),
                 absl::StrCat("database refused it: ", one.status().message()), now);
      ++skipped;
    }
  }
  for (const v1::SkippedContract& s : result.skipped()) {
    RecordSkip(txn, run_id, region_id, s.contract_id(),
               absl::StrCat("page ", s.page(), ": ", s.reason()), now);
    ++skipped;
  }

  const std::vector<int64_t> listed_ids(listed.begin(), listed.end());
  auto deleted = txn.exec_params(
      "DELETE FROM contracts WHERE region_id = $1 AND NOT (contract_id = ANY($2::bigint[]))",
      region_id, PgArray(listed_ids));
  const int dropped = static_cast<int>(deleted.affected_rows());
  if (!fresh_pages.empty()) {
    txn.exec_params(kUpsertPages, region_id, fresh_pages.dump(), FormatRfc3339(now));
  }
  txn.exec_params("DELETE FROM contract_region_pages WHERE region_id = $1 AND page > $2",
                  region_id, result.pages_total());

  PayloadOutcome out;
  auto need_items = txn.exec_params(
      "SELECT contract_id FROM contracts WHERE region_id = $1 AND items_fetched_at IS NULL "
      "AND items_error IS NULL AND type IN ('item_exchange', 'auction') "
      "AND contract_id = ANY($2::bigint[]) ORDER BY contract_id",
      region_id, PgArray(listed_ids));
  Discovery items{contracts::kItemsKind, {}, false};
  for (const auto& row : need_items) items.ids.push_back(row[0].as<int64_t>());
  const int items_queued = static_cast<int>(items.ids.size());
  if (!items.ids.empty()) out.discovered.push_back(std::move(items));

  txn.exec_params(
      "UPDATE contract_region_runs SET region_done_at = $2::timestamptz, pages = pages + $3, "
      "pages_not_modified = pages_not_modified + $4, contracts_upserted = contracts_upserted + $5, "
      "contracts_deleted = contracts_deleted + $6, contracts_skipped = contracts_skipped + $7, "
      "items_queued = items_queued + $8 WHERE region_id = $1 AND finished_at IS NULL",
      region_id, FormatRfc3339(now), result.pages_total(), not_modified, upserted, dropped,
      skipped, items_queued);
  const std::string prefix = run_id.empty() ? "" : absl::StrCat("[run ", run_id, "] ");
  LOG(INFO) << prefix << "region " << region_id << ": " << result.pages_total() << " page(s) ("
            << not_modified << " unchanged), " << listed.size() << " contract(s) listed, "
            << upserted << " upserted, " << dropped << " dropped, " << skipped << " skipped, "
            << items_queued << " item list(s) to fetch";
  out.records_written = upserted + dropped;
  return out;
}

absl::StatusOr<PayloadOutcome> ContractStore::ApplyItems(pqxx::dbtransaction& txn,
                                                         int64_t contract_id,
                                                         const v1::ContractItemsResult* items,
                                                         TimePoint now) const {
  PayloadOutcome out;
  auto contract = txn.exec_params(
      "SELECT region_id FROM contracts WHERE contract_id = $1 FOR UPDATE", contract_id);
  if (contract.empty()) return out;  // no longer listed: dropped meanwhile
  const int64_t region_id = contract[0][0].as<int64_t>();
  if (items == nullptr) {
    AddToRegionRun(txn, region_id, "item_calls = item_calls + 1, "
                                   "items_not_modified = items_not_modified + 1");
    return out;
  }
  json rows = json::array();
  std::set<int64_t> records;
  for (const v1::PublicContractItem& i : items->items()) {
    if (!records.insert(i.record_id()).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "payload.items: contract ", contract_id, " lists record_id ", i.record_id(), " twice"));
    }
    rows.push_back({{"record_id", i.record_id()},
                    {"type_id", i.type_id()},
                    {"quantity", i.quantity()},
                    {"is_included", i.is_included()},
                    {"is_singleton", i.is_singleton()},
                    {"is_blueprint_copy", i.is_blueprint_copy()},
                    {"material_efficiency",
                     OptionalInt(i.has_material_efficiency(), i.material_efficiency())},
                    {"time_efficiency", OptionalInt(i.has_time_efficiency(), i.time_efficiency())},
                    {"runs", OptionalInt(i.has_runs(), i.runs())},
                    {"item_id", OptionalInt(i.has_item_id(), i.item_id())}});
  }
  txn.exec_params("DELETE FROM contract_items WHERE contract_id = $1", contract_id);
  if (!rows.empty()) txn.exec_params(kInsertItems, contract_id, rows.dump());
  txn.exec_params(
      "UPDATE contracts SET items_fetched_at = $2::timestamptz, items_error = NULL, "
      "last_modified = $2::timestamptz WHERE contract_id = $1",
      contract_id, FormatRfc3339(now));
  std::vector<int64_t> missing = Classify(txn, {contract_id}, now);
  if (!missing.empty()) out.discovered.push_back({contracts::kTypeKind, std::move(missing), false});
  AddToRegionRun(txn, region_id,
                 absl::StrCat("item_calls = item_calls + 1, item_rows = item_rows + ",
                              static_cast<int>(rows.size())));
  out.records_written = static_cast<int>(rows.size());
  return out;
}

std::vector<int64_t> ContractStore::Classify(pqxx::dbtransaction& txn,
                                             const std::vector<int64_t>& ids,
                                             TimePoint now) const {
  struct Pending {
    std::string type;
    std::vector<ClassifierItem> items;
  };
  std::map<int64_t, Pending> contracts;
  std::map<int64_t, int64_t> groups;
  for (const auto& row : txn.exec_params(kClassificationItems, PgArray(ids))) {
    Pending& p = contracts[row[0].as<int64_t>()];
    p.type = row[1].c_str();
    if (row[2].is_null()) continue;  // no items
    ClassifierItem item;
    item.type_id = row[2].as<int64_t>();
    item.quantity = row[3].as<int64_t>();
    item.is_included = row[4].as<bool>();
    item.is_singleton = row[5].as<bool>();
    item.is_blueprint_copy = row[6].as<bool>();
    if (!row[7].is_null()) item.runs = row[7].as<int>();
    if (!row[8].is_null()) item.material_efficiency = row[8].as<int>();
    if (!row[9].is_null()) item.time_efficiency = row[9].as<int>();
    if (!row[10].is_null()) groups[item.type_id] = row[10].as<int64_t>();
    p.items.push_back(item);
  }
  std::set<int64_t> missing;
  json updates = json::array();
  for (const auto& [id, p] : contracts) {
    ShipClassification c = ClassifyContract(p.type, p.items, groups, settings_.ship_groups);
    if (!c.decided) {
      missing.insert(c.missing_types.begin(), c.missing_types.end());
      continue;
    }
    json u = {{"contract_id", id}, {"is_ship", c.is_ship_contract},
              {"additional", c.contains_additional_items}};
    if (c.is_ship_contract) {
      u["ship_type_id"] = c.ship_type_id;
      u["quantity"] = c.quantity;
      u["bpc"] = c.is_blueprint_copy;
      if (c.runs) u["runs"] = *c.runs;
      if (c.material_efficiency) u["me"] = *c.material_efficiency;
      if (c.time_efficiency) u["te"] = *c.time_efficiency;
    }
    updates.push_back(std::move(u));
  }
  if (!updates.empty()) txn.exec_params(kWriteClassification, updates.dump(), FormatRfc3339(now));
  return {missing.begin(), missing.end()};
}

absl::StatusOr<PayloadOutcome> ContractStore::ApplyType(pqxx::dbtransaction& txn,
                                                        int64_t type_id,
                                                        const v1::UniverseTypeRecord* type,
                                                        TimePoint now) const {
  PayloadOutcome out;
  const std::string now_text = FormatRfc3339(now);
  if (type == nullptr) {
    txn.exec_params(
        "UPDATE universe_types SET last_refreshed_at = $2::timestamptz, refresh_failures = 0, "
        "last_error = NULL, last_modified = $2::timestamptz WHERE type_id = $1",
        type_id, now_text);
    return out;
  }
  if (type->type_id() != type_id) {
    return absl::InvalidArgumentError(absl::StrCat("payload.type_id: ", type->type_id(),
                                                   " is not the task's type ", type_id));
  }
  if (type->name().empty()) {
    return absl::InvalidArgumentError(absl::StrCat("payload.name: type ", type_id, " has no name"));
  }
  auto opt_double = [](bool has, double v) { return has ? std::optional<double>(v) : std::nullopt; };
  auto opt_int = [](bool has, int64_t v) { return has ? std::optional<int64_t>(v) : std::nullopt; };
  txn.exec_params(kUpsertType, type_id, type->name(), type->group_id(), type->published(),
                  opt_double(type->has_volume(), type->volume()),
                  opt_double(type->has_packaged_volume(), type->packaged_volume()),
                  opt_int(type->has_market_group_id(), type->market_group_id()), now_text);
  out.records_written = 1;
  // Contracts waiting for this type's group.
  std::vector<int64_t> waiting;
  for (const auto& row : txn.exec_params(
           "SELECT DISTINCT c.contract_id FROM contract_items i "
           "JOIN contracts c ON c.contract_id = i.contract_id "
           "WHERE i.type_id = $1 AND c.is_ship_contract IS NULL "
           "AND c.items_fetched_at IS NOT NULL",
           type_id)) {
    waiting.push_back(row[0].as<int64_t>());
  }
  if (!waiting.empty()) {
    std::vector<int64_t> missing = Classify(txn, waiting, now);
    if (!missing.empty()) {
      out.discovered.push_back({contracts::kTypeKind, std::move(missing), false});
    }
  }
  return out;
}

int64_t ContractStore::ClassifyWaiting(pqxx::dbtransaction& txn,
                                       const std::vector<int64_t>& regions,
                                       TimePoint now) const {
  std::vector<int64_t> waiting;
  for (const auto& row : txn.exec_params(
           "SELECT contract_id FROM contracts WHERE is_ship_contract IS NULL "
           "AND items_fetched_at IS NOT NULL AND region_id = ANY($1::bigint[])",
           PgArray(regions))) {
    waiting.push_back(row[0].as<int64_t>());
  }
  if (waiting.empty()) return 0;
  Classify(txn, waiting, now);
  return txn.exec_params("SELECT count(*) FROM contracts WHERE is_ship_contract IS NULL "
                         "AND contract_id = ANY($1::bigint[])",
                         PgArray(waiting))[0][0].as<int64_t>();
}

void ContractStore::TypeFailed(pqxx::dbtransaction& txn, int64_t type_id,
                               const std::string& error, TimePoint now) const {
  // Bumped so the next run's refresh batch does not pick it again at once.
  auto r = txn.exec_params(
      "UPDATE universe_types SET last_refreshed_at = $2::timestamptz, "
      "refresh_failures = refresh_failures + 1, last_error = $3 WHERE type_id = $1 "
      "RETURNING refresh_failures",
      type_id, FormatRfc3339(now), error.substr(0, 1000));
  if (!r.empty()) {
    LOG(WARNING) << "universe type " << type_id << " refresh failed ("
                 << r[0][0].as<int>() << " failure(s) in a row): " << error;
  }
}

void ContractStore::ItemsFailed(pqxx::dbtransaction& txn, int64_t contract_id,
                                const std::string& error, bool permanent, TimePoint now) const {
  if (!permanent) return;
  // A contract whose items cannot be had (gone upstream) is not asked again.
  txn.exec_params(
      "UPDATE contracts SET items_error = $2, last_modified = $3::timestamptz "
      "WHERE contract_id = $1",
      contract_id, error.substr(0, 1000), FormatRfc3339(now));
}

void ContractStore::RegionFailed(pqxx::dbtransaction& txn, int64_t region_id,
                                 const std::string& error, bool dead, TimePoint now) const {
  (void)now;
  txn.exec_params(
      "UPDATE contract_region_runs SET errors = errors + 1, detail = $2 "
      "WHERE region_id = $1 AND finished_at IS NULL",
      region_id, (dead ? "dead: " : "retrying: ") + error.substr(0, 1000));
}

}  // namespace sluice
