#include "server/workflows/contracts/contract_listing.h"

#include <algorithm>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/time_util.h"
#include "server/store/pg_pool.h"
#include "server/workflows/contracts/contract_sql.h"

namespace sluice {

absl::Status CheckListingComplete(int64_t region_id, const v1::ContractRegionResult& result) {
  if (result.pages_total() < 1 || result.pages_size() != result.pages_total()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "payload.pages: region ", region_id, " reports ", result.pages_size(), " page(s) of ",
        result.pages_total(), "; a listing is applied only when every page was read"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RegionListing> ReadRegionListing(int64_t region_id,
                                                const v1::ContractRegionResult& result,
                                                const PageIds& stored) {
  if (absl::Status s = CheckListingComplete(region_id, result); !s.ok()) return s;
  RegionListing out;
  std::set<int64_t> listed;
  for (const v1::ContractPageResult& page : result.pages()) {
    if (page.has_expires()) out.page_expires.emplace_back(page.page(), FromProto(page.expires()));
    if (page.not_modified()) {
      auto it = stored.find(page.page());
      if (it == stored.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("payload.pages: region ", region_id, " page ", page.page(),
                         " answered 304 but no listing is stored for it"));
      }
      listed.insert(it->second.begin(), it->second.end());
      ++out.not_modified;
      continue;
    }
    listed.insert(page.contract_ids().begin(), page.contract_ids().end());
    out.fresh_pages.push_back(
        FreshPage{page.page(), page.etag(),
                  std::vector<int64_t>(page.contract_ids().begin(), page.contract_ids().end())});
  }
  out.listed.assign(listed.begin(), listed.end());
  std::map<int64_t, const v1::PublicContract*> unique;
  for (const v1::PublicContract& c : result.contracts()) unique[c.contract_id()] = &c;
  for (const auto& [id, c] : unique) out.contracts.push_back(c);
  return out;
}

std::vector<std::vector<const v1::PublicContract*>> ContractBatches(
    const std::vector<const v1::PublicContract*>& contracts, int batch_size) {
  std::vector<std::vector<const v1::PublicContract*>> out;
  const size_t batch = static_cast<size_t>(std::max(1, batch_size));
  for (size_t start = 0; start < contracts.size(); start += batch) {
    out.emplace_back(contracts.begin() + start,
                     contracts.begin() + std::min(contracts.size(), start + batch));
  }
  return out;
}

std::vector<int64_t> ParsePageIds(absl::string_view text) {
  std::vector<int64_t> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    int64_t id = 0;
    if (absl::SimpleAtoi(part, &id)) out.push_back(id);
  }
  return out;
}

PageIds StoredPageIds(pqxx::dbtransaction& txn, int64_t region_id) {
  PageIds out;
  for (const auto& row : txn.exec_params(contract_sql::kStoredPageIds, region_id)) {
    out[row[0].as<int>()] = ParsePageIds(row[1].c_str());
  }
  return out;
}

std::map<int64_t, std::vector<v1::ContractPageEtag>> PageEtags(
    pqxx::dbtransaction& txn, const std::vector<int64_t>& regions) {
  std::map<int64_t, std::vector<v1::ContractPageEtag>> out;
  for (const auto& row : txn.exec_params(contract_sql::kPageEtags, PgArray(regions))) {
    v1::ContractPageEtag e;
    e.set_page(row[1].as<int>());
    e.set_etag(row[2].c_str());
    out[row[0].as<int64_t>()].push_back(std::move(e));
  }
  return out;
}

}  // namespace sluice
