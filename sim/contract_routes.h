// ContractRoutes serves ESI's public contract routes and universe types:
//
//   GET /contracts/public/{region_id}/?page=N   paged (X-Pages), ETag per page
//   GET /contracts/public/items/{contract_id}/  a listed contract's items
//   GET /universe/types/{type_id}/              ship and non-ship types
//
// Contracts are generated, deterministically, from (seed, region, index):
// contract i of a region is issued at epoch + (i - N) * lifetime / N and
// expires `lifetime` later, so exactly N contracts are listed at any moment
// and, as the clock moves, the oldest expire while new ones appear (one every
// lifetime / N). Pages list contracts by ascending id, page_size per page.
//
// Control (all POST):
//   /sim/contracts/config?per_region=N&page_size=P&lifetime_s=S&cache_s=C&detail_cache_s=D&regions=a,b
//       cache_s: how long a region's list stays cached (default 300; ESI's
//       own is longer); every page of one cached version carries its
//       Last-Modified, and a version is built when first asked for after the
//       last one expired. detail_cache_s: the Expires lifetime of items and
//       types (default 3600, ESI's).
//   /sim/contracts/poison?region_id=R&mode=M  -> {"contract_id": id}
//       malformed: a contract an agent cannot parse (issuer_id is a string);
//       db: one that parses but breaks the database (expires before issued);
//       items_malformed: a listed item_exchange whose item list breaks the
//         schema (quantity is a string; the other fields as ESI has them);
//       items_truncated: one whose item list is cut short on every fetch.
//     /sim/stats counts the fetches of poison item lists (poison_item_fetches).
//   /sim/contracts/poison/clear
//   /sim/types/fail?type_id=T&status=500|404|0   (0 = answer normally again)
//
// Thread-safety: Serve and the control handlers may run concurrently; the
// mutable settings are guarded by mu_.
#ifndef SLUICE_SIM_CONTRACT_ROUTES_H_
#define SLUICE_SIM_CONTRACT_ROUTES_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "sim/esi_module.h"

namespace sluice::sim {

struct ContractSimSettings {
  // The Forge, Domain, Sinq Laison, Heimatar.
  std::vector<int64_t> regions = {10000002, 10000043, 10000032, 10000030};
  int per_region = 2500;  // listed at any moment
  int page_size = 1000;   // ESI's page size for this route
  int64_t lifetime_s = 3 * 24 * 3600;
  int cache_seconds = 300;          // a region's list
  int detail_cache_seconds = 3600;  // a contract's items, a type (ESI's)
};

// A type the simulator knows.
struct SimType {
  int64_t type_id;
  const char* name;
  int64_t group_id;
  double volume;
  double packaged_volume;
  bool ship;  // for generating contracts (670 Capsule is a ship group but never sold)
};

// Every type served by /universe/types/{id}/.
const std::vector<SimType>& SimTypes();

class ContractRoutes final : public EsiModule {
 public:
  ContractRoutes(const SimConfig& config, const Clock* clock,
                 ContractSimSettings settings = ContractSimSettings());

  bool Match(const std::vector<absl::string_view>& segments, EsiModuleMatch* m) const override;
  Reply Serve(const EsiModuleMatch& m, const httplib::Request& request) const override;
  void RegisterControl(httplib::Server& server) override;
  nlohmann::json Summary() const override;
  std::vector<EsiRouteInfo> Routes() const override;

  // The ids listed for `region_id` right now (poison included), ascending.
  std::vector<int64_t> ListedIds(int64_t region_id) const;
  void set_settings(const ContractSimSettings& settings);
  enum class PoisonMode { kMalformed, kDb, kItemsMalformed, kItemsTruncated };
  // Returns the poison contract's id; NOT_FOUND for a region not configured.
  absl::StatusOr<int64_t> AddPoison(int64_t region_id, PoisonMode mode);

 private:
  struct Poison {
    int64_t contract_id;
    PoisonMode mode;
  };
  Reply RegionPage(absl::string_view region_text, const httplib::Request& request) const;
  Reply Items(absl::string_view contract_text) const;
  Reply Type(absl::string_view type_text) const;
  // Index window listed now: [first, first + per_region).
  int64_t FirstIndex(const ContractSimSettings& s) const;
  int64_t FirstIndexAt(const ContractSimSettings& s, TimePoint at) const;
  nlohmann::json ContractJson(const ContractSimSettings& s, int slot, int64_t index) const;

  const uint64_t seed_;
  const Clock* const clock_;
  const TimePoint epoch_;
  mutable std::mutex mu_;
  ContractSimSettings settings_;
  std::map<int64_t, std::vector<Poison>> poison_;  // by region
  std::map<int64_t, int> type_failures_;           // type id -> status
  int64_t next_poison_id_ = 990000001;
  mutable int64_t poison_item_fetches_ = 0;
  // When each region's cached list was built (whole seconds).
  mutable std::map<int64_t, TimePoint> built_;  // guarded by mu_
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_CONTRACT_ROUTES_H_
