#include "server/workflows/contracts/contract_store.h"

#include <glog/logging.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "server/scheduler/job.h"
#include "server/store/pg_pool.h"
#include "server/store/savepoint.h"
#include "server/workflows/contracts/contract_listing.h"
#include "server/workflows/contracts/contract_schema.h"
#include "server/workflows/contracts/contract_sql.h"
#include "server/workflows/contracts/ship_classifier.h"

namespace sluice {
namespace {

using nlohmann::json;

// The region's open run id ("" if none), its row locked for this transaction.
std::string LockOpenRun(pqxx::dbtransaction& txn, int64_t region_id) {
  auto r = txn.exec_params(contract_sql::kLockOpenRun, region_id);
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

void ContractStore::RecordSkip(pqxx::dbtransaction& txn, const std::string& run_id,
                               int64_t region_id, int64_t contract_id, const std::string& reason,
                               TimePoint now) const {
  LogSkip(run_id, region_id, contract_id, reason);
  txn.exec_params(contract_sql::kRecordSkip, run_id, region_id, contract_id, reason.substr(0, 2000),
                  FormatRfc3339(now));
}

int ContractStore::UpsertContracts(pqxx::dbtransaction& txn, int64_t region_id,
                                   const std::vector<const v1::PublicContract*>& contracts,
                                   TimePoint now) const {
  json rows = json::array();
  for (const v1::PublicContract* c : contracts) rows.push_back(ContractJson(*c));
  auto r =
      txn.exec_params(contract_sql::kUpsertContracts, rows.dump(), region_id, FormatRfc3339(now));
  return static_cast<int>(r.affected_rows());
}

absl::StatusOr<PayloadOutcome> ContractStore::ApplyRegion(pqxx::dbtransaction& txn,
                                                          int64_t region_id,
                                                          const v1::ContractRegionResult& result,
                                                          TimePoint now) const {
  if (absl::Status s = CheckListingComplete(region_id, result); !s.ok()) return s;
  const std::string run_id = LockOpenRun(txn, region_id);
  absl::StatusOr<RegionListing> listing =
      ReadRegionListing(region_id, result, StoredPageIds(txn, region_id));
  if (!listing.ok()) return listing.status();

  // A contract that breaks ESI's schema is skipped before any write; a batch
  // the database still refuses is redone one contract at a time so only the
  // poison is skipped.
  int upserted = 0;
  int skipped = 0;
  std::vector<const v1::PublicContract*> valid;
  for (const v1::PublicContract* c : listing->contracts) {
    absl::Status s = contracts::CheckPublicContract(
        *c, absl::StrCat("payload.contracts[", c->contract_id(), "]"));
    if (s.ok()) {
      valid.push_back(c);
      continue;
    }
    RecordSkip(txn, run_id, region_id, std::max<int64_t>(0, c->contract_id()),
               std::string(s.message()), now);
    ++skipped;
  }
  for (const auto& part : ContractBatches(valid, settings_.batch_size)) {
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

  const std::string listed = PgArray(listing->listed);
  auto deleted = txn.exec_params(contract_sql::kDeleteUnlisted, region_id, listed);
  const int dropped = static_cast<int>(deleted.affected_rows());
  if (!listing->fresh_pages.empty()) {
    json pages = json::array();
    for (const FreshPage& p : listing->fresh_pages) {
      pages.push_back({{"page", p.page}, {"etag", p.etag}, {"ids", p.contract_ids}});
    }
    txn.exec_params(contract_sql::kUpsertPages, region_id, pages.dump(), FormatRfc3339(now));
  }
  if (!listing->page_expires.empty()) {
    json expires = json::array();
    for (const auto& [page, at] : listing->page_expires) {
      expires.push_back({{"page", page}, {"expires", FormatRfc3339(at)}});
    }
    txn.exec_params(contract_sql::kSetPageExpires, region_id, expires.dump());
  }
  txn.exec_params(contract_sql::kDeletePagesAfter, region_id, result.pages_total());

  PayloadOutcome out;
  Discovery items{contracts::kItemsKind, {}, false};
  for (const auto& row : txn.exec_params(contract_sql::kContractsNeedingItems, region_id, listed)) {
    items.ids.push_back(row[0].as<int64_t>());
  }
  const int items_queued = static_cast<int>(items.ids.size());
  if (!items.ids.empty()) out.discovered.push_back(std::move(items));

  txn.exec_params(contract_sql::kCountRegionDone, region_id, FormatRfc3339(now),
                  result.pages_total(), listing->not_modified, upserted, dropped, skipped,
                  items_queued);
  const std::string prefix = run_id.empty() ? "" : absl::StrCat("[run ", run_id, "] ");
  LOG(INFO) << prefix << "region " << region_id << ": " << result.pages_total() << " page(s) ("
            << listing->not_modified << " unchanged), " << listing->listed.size()
            << " contract(s) listed, " << upserted << " upserted, " << dropped << " dropped, "
            << skipped << " skipped, " << items_queued << " item list(s) to fetch";
  out.records_written = upserted + dropped;
  return out;
}

void ContractStore::LockRunsOfContracts(pqxx::dbtransaction& txn,
                                        const std::vector<int64_t>& contract_ids) const {
  txn.exec_params(contract_sql::kLockRunsOfContracts, PgArray(contract_ids));
}

absl::StatusOr<PayloadOutcome> ContractStore::ApplyItems(pqxx::dbtransaction& txn,
                                                         int64_t contract_id,
                                                         const v1::ContractItemsResult* items,
                                                         TimePoint now) const {
  PayloadOutcome out;
  auto contract = txn.exec_params(contract_sql::kLockContract, contract_id);
  if (contract.empty()) return out;  // no longer listed: dropped meanwhile
  const int64_t region_id = contract[0][0].as<int64_t>();
  if (items == nullptr) {
    txn.exec_params(contract_sql::kCountItemsNotModified, region_id);
    return out;
  }
  json rows = json::array();
  std::set<int64_t> records;
  for (const v1::PublicContractItem& i : items->items()) {
    if (absl::Status s = contracts::CheckContractItem(
            i, absl::StrCat("payload.items[record ", i.record_id(), "]"));
        !s.ok()) {
      return s;
    }
    if (!records.insert(i.record_id()).second) {
      return absl::InvalidArgumentError(absl::StrCat("payload.items: contract ", contract_id,
                                                     " lists record_id ", i.record_id(), " twice"));
    }
    rows.push_back(
        {{"record_id", i.record_id()},
         {"type_id", i.type_id()},
         {"quantity", i.quantity()},
         {"is_included", i.is_included()},
         {"is_singleton", i.is_singleton()},
         {"is_blueprint_copy", i.is_blueprint_copy()},
         {"material_efficiency", OptionalInt(i.has_material_efficiency(), i.material_efficiency())},
         {"time_efficiency", OptionalInt(i.has_time_efficiency(), i.time_efficiency())},
         {"runs", OptionalInt(i.has_runs(), i.runs())},
         {"item_id", OptionalInt(i.has_item_id(), i.item_id())}});
  }
  txn.exec_params(contract_sql::kDeleteItems, contract_id);
  if (!rows.empty()) txn.exec_params(contract_sql::kInsertItems, contract_id, rows.dump());
  txn.exec_params(contract_sql::kItemsFetched, contract_id, FormatRfc3339(now));
  std::vector<int64_t> missing = Classify(txn, {contract_id}, now);
  if (!missing.empty()) out.discovered.push_back({contracts::kTypeKind, std::move(missing), false});
  txn.exec_params(contract_sql::kCountItems, region_id, static_cast<int>(rows.size()));
  out.records_written = static_cast<int>(rows.size());
  return out;
}

std::vector<int64_t> ContractStore::Classify(pqxx::dbtransaction& txn,
                                             const std::vector<int64_t>& ids, TimePoint now) const {
  struct Pending {
    std::string type;
    std::vector<ClassifierItem> items;
  };
  std::map<int64_t, Pending> contracts;
  std::map<int64_t, int64_t> groups;
  for (const auto& row : txn.exec_params(contract_sql::kClassificationItems, PgArray(ids))) {
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
    json u = {{"contract_id", id},
              {"is_ship", c.is_ship_contract},
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
  if (!updates.empty()) {
    txn.exec_params(contract_sql::kWriteClassification, updates.dump(), FormatRfc3339(now));
  }
  return {missing.begin(), missing.end()};
}

absl::StatusOr<PayloadOutcome> ContractStore::ApplyType(pqxx::dbtransaction& txn, int64_t type_id,
                                                        const v1::UniverseTypeRecord* type,
                                                        TimePoint now) const {
  PayloadOutcome out;
  const std::string now_text = FormatRfc3339(now);
  if (type == nullptr) {
    txn.exec_params(contract_sql::kTypeNotModified, type_id, now_text);
    return out;
  }
  if (type->type_id() != type_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("payload.type_id: ", type->type_id(), " is not the task's type ", type_id));
  }
  if (absl::Status s = contracts::CheckUniverseType(*type, "payload"); !s.ok()) return s;
  auto opt_double = [](bool has, double v) {
    return has ? std::optional<double>(v) : std::nullopt;
  };
  auto opt_int = [](bool has, int64_t v) { return has ? std::optional<int64_t>(v) : std::nullopt; };
  txn.exec_params(contract_sql::kUpsertType, type_id, type->name(), type->group_id(),
                  type->published(), opt_double(type->has_volume(), type->volume()),
                  opt_double(type->has_packaged_volume(), type->packaged_volume()),
                  opt_int(type->has_market_group_id(), type->market_group_id()), now_text);
  out.records_written = 1;
  // Contracts waiting for this type's group.
  std::vector<int64_t> waiting;
  for (const auto& row : txn.exec_params(contract_sql::kContractsAwaitingType, type_id)) {
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
                                       const std::vector<int64_t>& regions, TimePoint now) const {
  std::vector<int64_t> waiting;
  for (const auto& row : txn.exec_params(contract_sql::kUnclassifiedInRegions, PgArray(regions))) {
    waiting.push_back(row[0].as<int64_t>());
  }
  if (waiting.empty()) return 0;
  Classify(txn, waiting, now);
  return txn.exec_params(contract_sql::kCountUnclassified, PgArray(waiting))[0][0].as<int64_t>();
}

void ContractStore::TypeFailed(pqxx::dbtransaction& txn, int64_t type_id, const std::string& error,
                               TimePoint now) const {
  auto r = txn.exec_params(contract_sql::kTypeFailed, type_id, FormatRfc3339(now),
                           error.substr(0, 1000));
  if (!r.empty()) {
    LOG(WARNING) << "universe type " << type_id << " refresh failed (" << r[0][0].as<int>()
                 << " failure(s) in a row): " << error;
  }
}

void ContractStore::ItemsGivenUp(pqxx::dbtransaction& txn, int64_t contract_id, int http_status,
                                 const std::string& error, TimePoint now) const {
  // The region's run row before the contract, as every writer takes them
  // (LockRunsOfContracts).
  if (http_status != 404 && http_status != 410) LockRunsOfContracts(txn, {contract_id});
  // Either way the contract's items are not asked for again.
  txn.exec_params(contract_sql::kItemsFailed, contract_id, error.substr(0, 1000),
                  FormatRfc3339(now));
  if (http_status == 404 || http_status == 410) return;  // gone, not poison
  auto run = txn.exec_params(contract_sql::kCountItemsSkipped, contract_id);
  if (run.empty()) return;  // no longer listed: dropped meanwhile
  RecordSkip(txn, run[0][1].c_str(), run[0][0].as<int64_t>(), contract_id,
             absl::StrCat("items: ", error), now);
}

void ContractStore::RegionFailed(pqxx::dbtransaction& txn, int64_t region_id,
                                 const std::string& error, bool dead, TimePoint now) const {
  (void)now;
  txn.exec_params(contract_sql::kCountRegionError, region_id,
                  (dead ? "dead: " : "retrying: ") + error.substr(0, 1000));
}

}  // namespace sluice
