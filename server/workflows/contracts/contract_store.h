// ContractStore writes what agents report for the contract kinds, inside the
// completion batch's transaction (the TaskExtensions call it from Apply):
//
//   - a region listing (contracts_region), once the listing step
//     (contract_listing.h) has decided what the region lists: batched
//     contract upserts, each batch under a savepoint; a batch the database
//     refuses is retried contract by contract so only the poison contract is
//     skipped ("contract <id> skipped: <why>", counted, kept in
//     contract_skips); contracts no longer listed are dropped; page ETags are
//     stored; new contracts' items are discovered;
//   - a contract's items (contract_items): stored, then the contract is
//     classified (ship_classifier.h); types missing from the cache are
//     discovered (universe_type) and the contract is classified when they
//     arrive;
//   - a type (universe_type): the cache row, then every contract waiting on it
//     is classified.
//
// Counts go to the region's open contract_region_runs row, which the
// aggregation job sums into its job_runs row. Every statement is in
// contract_sql.h.
//
// Thread-safety: stateless apart from immutable settings; the transaction is
// the caller's.
#ifndef SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_STORE_H_
#define SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_STORE_H_

#include <pqxx/pqxx>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/store/task_extension.h"
#include "sluice/v1/contracts.pb.h"

namespace sluice {

namespace contracts {
inline constexpr char kRegionKind[] = "contracts_region";
inline constexpr char kItemsKind[] = "contract_items";
inline constexpr char kTypeKind[] = "universe_type";
}  // namespace contracts

struct ContractStoreSettings {
  std::set<int64_t> ship_groups;
  // Contracts per upsert statement.
  int batch_size = 500;
};

class ContractStore {
 public:
  explicit ContractStore(ContractStoreSettings settings) : settings_(std::move(settings)) {}

  absl::StatusOr<PayloadOutcome> ApplyRegion(pqxx::dbtransaction& txn, int64_t region_id,
                                             const v1::ContractRegionResult& result,
                                             TimePoint now) const;
  // Locks the open run rows of the contracts' regions, in region order: a
  // batch of item lists calls it before ApplyItems, so that every writer
  // takes a region's run row before the region's contracts.
  void LockRunsOfContracts(pqxx::dbtransaction& txn,
                           const std::vector<int64_t>& contract_ids) const;
  // `items` is null for a 304.
  absl::StatusOr<PayloadOutcome> ApplyItems(pqxx::dbtransaction& txn, int64_t contract_id,
                                            const v1::ContractItemsResult* items,
                                            TimePoint now) const;
  // `type` is null for a 304.
  absl::StatusOr<PayloadOutcome> ApplyType(pqxx::dbtransaction& txn, int64_t type_id,
                                           const v1::UniverseTypeRecord* type, TimePoint now) const;

  // Classifies the contracts (those with items); returns the types the rule
  // needs that the cache lacks.
  std::vector<int64_t> Classify(pqxx::dbtransaction& txn, const std::vector<int64_t>& ids,
                                TimePoint now) const;

  // Classifies the regions' contracts that have items but no verdict yet.
  // Needed because an item list and a type it lacks may commit concurrently
  // (neither transaction sees the other's rows); the aggregation run sweeps
  // once every first attempt is done. Returns the contracts still waiting.
  int64_t ClassifyWaiting(pqxx::dbtransaction& txn, const std::vector<int64_t>& regions,
                          TimePoint now) const;

  // Failure hooks.
  void TypeFailed(pqxx::dbtransaction& txn, int64_t type_id, const std::string& error,
                  TimePoint now) const;
  // A contract's item list was given up on (its task dead-lettered). Gone
  // upstream (404/410): the contract keeps the error. Anything else (an
  // answer that broke the schema, a body still truncated when fetched again,
  // out of attempts) skips the contract: recorded in contract_skips with its
  // id and the reason, counted on its region's open run; the region goes on.
  void ItemsGivenUp(pqxx::dbtransaction& txn, int64_t contract_id, int http_status,
                    const std::string& error, TimePoint now) const;
  void RegionFailed(pqxx::dbtransaction& txn, int64_t region_id, const std::string& error,
                    bool dead, TimePoint now) const;

 private:
  // Upserts `contracts` (one statement), returns the rows written.
  int UpsertContracts(pqxx::dbtransaction& txn, int64_t region_id,
                      const std::vector<const v1::PublicContract*>& contracts, TimePoint now) const;
  void RecordSkip(pqxx::dbtransaction& txn, const std::string& run_id, int64_t region_id,
                  int64_t contract_id, const std::string& reason, TimePoint now) const;

  const ContractStoreSettings settings_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_STORE_H_
