// The listing step of a region's refresh (contracts_region): from the pages
// an agent read and the listing stored by earlier reads, what the region
// lists now. A page that answered 304 stands for the ids stored for it, so
// an unchanged page costs neither a body nor a write; a contract of the
// region that no page lists any more is gone.
//
// ReadRegionListing decides without a database (the stored pages come in as
// an argument); the two reads of stored pages are the only statements here.
// What the listing leads to (upserts, deletions, stored pages, item lists to
// fetch) is written by ContractStore::ApplyRegion (contract_store.h).
//
// Thread-safety: free functions without state; a transaction is the caller's.
#ifndef SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_LISTING_H_
#define SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_LISTING_H_

#include <pqxx/pqxx>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "sluice/v1/contracts.pb.h"

namespace sluice {

// A region's stored listing: the contract ids of each page, by page number.
using PageIds = std::map<int, std::vector<int64_t>>;

// A page read with a body (not a 304): stored with its ETag for the next
// read's If-None-Match.
struct FreshPage {
  int page = 0;
  std::string etag;
  std::vector<int64_t> contract_ids;
};

struct RegionListing {
  // Every contract the region lists now, ascending and unique: the ids of
  // fresh pages (parsed or skipped alike) and the stored ids of 304 pages.
  std::vector<int64_t> listed;
  // In the order the agent reported them.
  std::vector<FreshPage> fresh_pages;
  // Pages that answered 304.
  int not_modified = 0;
  // Each page's Expires, where its answer had one (fresh and 304 pages).
  std::vector<std::pair<int, TimePoint>> page_expires;
  // The contracts to upsert (new or changed), one per id, ascending. A
  // contract may move between pages while they are read and so be reported
  // twice; the later report wins. They point into the result given to
  // ReadRegionListing, which must outlive them.
  std::vector<const v1::PublicContract*> contracts;
};

// INVALID_ARGUMENT unless the result holds every page of the listing: a
// partial listing would drop every contract on the pages it lacks.
absl::Status CheckListingComplete(int64_t region_id, const v1::ContractRegionResult& result);

// The listing step. INVALID_ARGUMENT if the listing is incomplete, or if a
// page answered 304 but `stored` has no ids for it (nothing to stand for).
absl::StatusOr<RegionListing> ReadRegionListing(int64_t region_id,
                                                const v1::ContractRegionResult& result,
                                                const PageIds& stored);

// `contracts` in consecutive batches of at most `batch_size` (at least 1),
// for one upsert statement each.
std::vector<std::vector<const v1::PublicContract*>> ContractBatches(
    const std::vector<const v1::PublicContract*>& contracts, int batch_size);

// A stored page's ids as the database spells them ("1,2,3"); anything that
// is not a number is left out.
std::vector<int64_t> ParsePageIds(absl::string_view text);

// The region's stored listing.
PageIds StoredPageIds(pqxx::dbtransaction& txn, int64_t region_id);

// ETags of the stored pages, by region: a region lease's context, so the
// agent asks with If-None-Match.
std::map<int64_t, std::vector<v1::ContractPageEtag>> PageEtags(pqxx::dbtransaction& txn,
                                                               const std::vector<int64_t>& regions);

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_CONTRACTS_CONTRACT_LISTING_H_
