// The stash transform: poe_stash_raw -> poe_stash_silver (the latest state of
// each stash), poe_item_price_silver (its priced items, price_parser.h,
// valued in chaos with gold_currency_snapshot) and gold_stash_summary (per
// realm and league).
//
// FoldStashes is the whole logic, a pure function of the raw rows and the
// silver state of the stashes they touch:
//   - a stash's newer version replaces the older; a version with league ''
//     (PoE's "league null": made private or emptied) keeps the stash's
//     league;
//   - an item's listed_at is the ingestion of the first version in which it
//     sat in that stash at that price, the same whether versions arrive in
//     one batch or many;
//   - an item in two stashes' final versions (moved) belongs to the later;
//   - items without an id, or repeating a priced item's id in one version,
//     are skipped and counted.
// StashTransform reads the rows and that state, folds, replaces the touched
// stashes' items and rows, and recomputes the touched leagues' summaries (a
// stash whose league PoE never named is in no summary). Valuation happens in
// SQL as the items are written: the rate of the latest hour that had ended by
// the ingestion of the item's version.
//
// Thread-safety: FoldStashes is pure; StashTransform is stateless.
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_STASH_TRANSFORM_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_STASH_TRANSFORM_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "server/workflows/etl/price_parser.h"
#include "server/workflows/etl/transform.h"

namespace sluice::etl {

inline constexpr char kStashTransform[] = "etl:poe_stashes";

// One poe_stash_raw row.
struct StashRawRow {
  int64_t raw_id = 0;
  std::string realm;
  std::string league;  // '' = PoE's league null
  std::string stash_id;
  std::string change_id;
  std::optional<std::string> account_name;
  std::optional<std::string> stash_name;
  std::optional<std::string> stash_type;
  bool is_public = false;
  std::string items = "[]";  // JSON text as stored (PoE's items array)
  std::string ingested_at;   // timestamptz text
};

using StashKey = std::pair<std::string, std::string>;  // realm, stash_id

// A priced item as poe_item_price_silver holds it.
struct ListedItem {
  Price price;
  std::string listed_at;  // timestamptz text
};

// A stash as the silver layer holds it before the batch.
struct StashSilverState {
  std::string league;
  std::map<std::string, ListedItem> items;  // item_id -> its listing
};

// One poe_stash_silver row.
struct StashSilverRow {
  std::string realm;
  std::string stash_id;
  std::string league;
  std::optional<std::string> account_name;
  std::optional<std::string> stash_name;
  std::optional<std::string> stash_type;
  bool is_public = false;
  int item_count = 0;    // every item of the version, priced or not
  int priced_items = 0;  // its rows in poe_item_price_silver
  std::string change_id;
  int64_t raw_id = 0;
  std::string updated_at;  // the version's ingestion
};

// One poe_item_price_silver row, before valuation.
struct ItemPriceRow {
  std::string realm;
  std::string item_id;
  std::string league;
  std::string stash_id;
  std::string name;
  std::string type_line;
  std::string base_type;
  std::optional<int64_t> stack_size;
  std::string price_kind;    // "price" or "b/o"
  std::string price_source;  // "item" or "stash"
  double price_amount = 0;
  std::string price_currency;
  std::string listed_at;
  std::string updated_at;  // the version's ingestion
  int64_t raw_id = 0;
};

struct StashFold {
  std::vector<StashSilverRow> stashes;  // every touched stash, by key
  std::vector<ItemPriceRow> items;      // their priced items, by stash key
  // (realm, league) whose summaries change, ordered.
  std::vector<std::pair<std::string, std::string>> leagues;
  int64_t bad_items = 0;  // skipped: no id, or a repeated one
  // Versions whose items were not a JSON array (taken as empty).
  std::vector<std::string> warnings;
};

// The stashes `rows` touch, in the order first seen.
std::vector<StashKey> TouchedStashes(const std::vector<StashRawRow>& rows);

// `rows` in raw_id order; `prior` the silver state of touched stashes (a
// stash missing from it is new).
StashFold FoldStashes(const std::vector<StashRawRow>& rows,
                      const std::map<StashKey, StashSilverState>& prior);

class StashTransform final : public Transform {
 public:
  const char* name() const override { return kStashTransform; }
  const char* writers_like() const override { return "poe_stash:%"; }
  int64_t MaxRawId(pqxx::dbtransaction& txn) const override;
  absl::StatusOr<Applied> Apply(pqxx::dbtransaction& txn, int64_t after, int64_t up_to,
                                int limit) const override;
};

}  // namespace sluice::etl

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_STASH_TRANSFORM_H_
