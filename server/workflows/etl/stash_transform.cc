#include "server/workflows/etl/stash_transform.h"

#include <glog/logging.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "server/store/pg_pool.h"
#include "server/workflows/etl/etl_sql.h"

namespace sluice::etl {
namespace {

using Json = nlohmann::json;

std::string Str(const Json& item, const char* key) {
  auto it = item.find(key);
  if (it == item.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

// A stash's version as the fold carries it.
struct Version {
  const StashRawRow* raw = nullptr;
  int item_count = 0;
  std::vector<ItemPriceRow> items;  // priced items of this version
};

struct FoldState {
  StashSilverState silver;
  std::optional<Version> last;
};

Json OptionalText(const std::optional<std::string>& s) { return s ? Json(*s) : Json(); }

}  // namespace

std::vector<StashKey> TouchedStashes(const std::vector<StashRawRow>& rows) {
  std::vector<StashKey> out;
  std::set<StashKey> seen;
  for (const StashRawRow& r : rows) {
    StashKey k{r.realm, r.stash_id};
    if (seen.insert(k).second) out.push_back(std::move(k));
  }
  return out;
}

StashFold FoldStashes(const std::vector<StashRawRow>& rows,
                      const std::map<StashKey, StashSilverState>& prior) {
  StashFold fold;
  std::map<StashKey, FoldState> state;
  for (const StashKey& k : TouchedStashes(rows)) {
    auto it = prior.find(k);
    state[k].silver = it == prior.end() ? StashSilverState{} : it->second;
  }
  // A stash's league before the batch needs its summary recomputed too: the
  // stash may leave it.
  std::set<std::pair<std::string, std::string>> leagues;
  auto touch = [&](const std::string& realm, const std::string& league) {
    if (!league.empty()) leagues.insert({realm, league});
  };
  for (const auto& [k, st] : state) touch(k.first, st.silver.league);

  for (const StashRawRow& r : rows) {
    const StashKey key{r.realm, r.stash_id};
    FoldState& st = state[key];
    if (!r.league.empty()) st.silver.league = r.league;
    touch(key.first, st.silver.league);
    Version v;
    v.raw = &r;
    Json items = Json::parse(r.items, nullptr, false);
    if (!items.is_array()) {
      fold.warnings.push_back(absl::StrCat("raw stash ", r.raw_id, " (", r.stash_id,
                                           "): items is not an array; treated as empty"));
      items = Json::array();
    }
    v.item_count = static_cast<int>(items.size());
    const std::string stash_name = r.stash_name.value_or("");
    std::map<std::string, ListedItem> next;
    for (const Json& item : items) {
      const std::string id = item.is_object() ? Str(item, "id") : "";
      if (id.empty() || next.count(id)) {
        fold.bad_items++;
        continue;
      }
      auto price = ResolvePrice(Str(item, "note"), stash_name);
      if (!price) continue;
      ListedItem listed;
      listed.price = price->price;
      auto old = st.silver.items.find(id);
      listed.listed_at = (old != st.silver.items.end() && old->second.price == listed.price)
                             ? old->second.listed_at
                             : r.ingested_at;
      ItemPriceRow row;
      row.realm = key.first;
      row.item_id = id;
      row.stash_id = key.second;
      row.name = Str(item, "name");
      row.type_line = Str(item, "typeLine");
      row.base_type = Str(item, "baseType");
      if (auto it = item.find("stackSize"); it != item.end() && it->is_number_integer()) {
        row.stack_size = it->get<int64_t>();
      }
      row.price_kind = listed.price.kind;
      row.price_source = price->source;
      row.price_amount = listed.price.amount;
      row.price_currency = listed.price.currency;
      row.listed_at = listed.listed_at;
      row.updated_at = r.ingested_at;
      row.raw_id = r.raw_id;
      next[id] = std::move(listed);
      v.items.push_back(std::move(row));
    }
    st.silver.items = std::move(next);
    st.last = std::move(v);
  }

  // (realm, item_id) -> raw_id of the latest final version listing it.
  std::map<StashKey, int64_t> item_owner;
  for (const auto& [key, st] : state) {
    if (!st.last) continue;
    for (const ItemPriceRow& row : st.last->items) {
      int64_t& owner = item_owner[{key.first, row.item_id}];
      owner = std::max(owner, st.last->raw->raw_id);
    }
  }
  for (auto& [key, st] : state) {
    if (!st.last) continue;
    Version& v = *st.last;
    const StashRawRow& r = *v.raw;
    int priced = 0;
    for (ItemPriceRow& row : v.items) {
      if (item_owner[{key.first, row.item_id}] != r.raw_id) continue;
      row.league = st.silver.league;
      fold.items.push_back(std::move(row));
      priced++;
    }
    StashSilverRow s;
    s.realm = key.first;
    s.stash_id = key.second;
    s.league = st.silver.league;
    s.account_name = r.account_name;
    s.stash_name = r.stash_name;
    s.stash_type = r.stash_type;
    s.is_public = r.is_public;
    s.item_count = v.item_count;
    s.priced_items = priced;
    s.change_id = r.change_id;
    s.raw_id = r.raw_id;
    s.updated_at = r.ingested_at;
    fold.stashes.push_back(std::move(s));
  }
  fold.leagues.assign(leagues.begin(), leagues.end());
  return fold;
}

int64_t StashTransform::MaxRawId(pqxx::dbtransaction& txn) const {
  return txn.exec(etl_sql::kStashMaxRawId)[0][0].as<int64_t>();
}

absl::StatusOr<Applied> StashTransform::Apply(pqxx::dbtransaction& txn, int64_t after,
                                              int64_t up_to, int limit) const {
  Applied a;
  std::vector<StashRawRow> rows;
  auto optional_text = [](const pqxx::field& f) -> std::optional<std::string> {
    if (f.is_null()) return std::nullopt;
    return f.as<std::string>();
  };
  for (const auto& r : txn.exec_params(etl_sql::kReadStashRaw, after, up_to, limit)) {
    StashRawRow row;
    row.raw_id = r[0].as<int64_t>();
    row.realm = r[1].as<std::string>();
    row.league = r[2].as<std::string>();
    row.stash_id = r[3].as<std::string>();
    row.change_id = r[4].as<std::string>();
    row.account_name = optional_text(r[5]);
    row.stash_name = optional_text(r[6]);
    row.stash_type = optional_text(r[7]);
    row.is_public = r[8].as<bool>();
    row.items = r[9].as<std::string>();
    row.ingested_at = r[10].as<std::string>();
    a.last_raw_id = row.raw_id;
    a.raw_rows++;
    rows.push_back(std::move(row));
  }
  if (rows.empty()) return a;

  // The touched stashes' silver state.
  std::vector<std::string> realms, ids;
  for (const StashKey& k : TouchedStashes(rows)) {
    realms.push_back(k.first);
    ids.push_back(k.second);
  }
  const std::string realms_arr = PgTextArray(realms), ids_arr = PgTextArray(ids);
  std::map<StashKey, StashSilverState> prior;
  for (const auto& r : txn.exec_params(etl_sql::kReadStashLeagues, realms_arr, ids_arr)) {
    prior[{r[0].as<std::string>(), r[1].as<std::string>()}].league = r[2].as<std::string>();
  }
  for (const auto& r : txn.exec_params(etl_sql::kReadStashItems, realms_arr, ids_arr)) {
    ListedItem item;
    item.price = Price{r[3].as<std::string>(), r[4].as<double>(), r[5].as<std::string>()};
    item.listed_at = r[6].as<std::string>();
    prior[{r[0].as<std::string>(), r[1].as<std::string>()}].items[r[2].as<std::string>()] = item;
  }

  StashFold fold = FoldStashes(rows, prior);
  for (const std::string& w : fold.warnings) LOG(WARNING) << "etl: " << w;
  if (fold.bad_items > 0) {
    LOG(WARNING) << "etl: skipped " << fold.bad_items
                 << " item(s) without an id or with a repeated one";
  }
  Json stash_rows = Json::array(), item_rows = Json::array();
  for (const StashSilverRow& s : fold.stashes) {
    stash_rows.push_back({{"realm", s.realm},
                          {"stash_id", s.stash_id},
                          {"league", s.league},
                          {"account_name", OptionalText(s.account_name)},
                          {"stash_name", OptionalText(s.stash_name)},
                          {"stash_type", OptionalText(s.stash_type)},
                          {"public", s.is_public},
                          {"item_count", s.item_count},
                          {"priced_items", s.priced_items},
                          {"change_id", s.change_id},
                          {"raw_id", s.raw_id},
                          {"updated_at", s.updated_at}});
  }
  for (const ItemPriceRow& i : fold.items) {
    item_rows.push_back({{"realm", i.realm},
                         {"item_id", i.item_id},
                         {"league", i.league},
                         {"stash_id", i.stash_id},
                         {"name", i.name},
                         {"type_line", i.type_line},
                         {"base_type", i.base_type},
                         {"stack_size", i.stack_size ? Json(*i.stack_size) : Json()},
                         {"price_kind", i.price_kind},
                         {"price_source", i.price_source},
                         {"price_amount", i.price_amount},
                         {"price_currency", i.price_currency},
                         {"listed_at", i.listed_at},
                         {"updated_at", i.updated_at},
                         {"raw_id", i.raw_id}});
  }

  // Replace the touched stashes' items, then their rows, then the leagues'
  // summaries (which read both).
  a.written += txn.exec_params(etl_sql::kDeleteStashItems, realms_arr, ids_arr).affected_rows();
  if (!item_rows.empty()) {
    a.written += txn.exec_params(etl_sql::kInsertItemPrices, item_rows.dump()).affected_rows();
  }
  a.written += txn.exec_params(etl_sql::kUpsertStashSilver, stash_rows.dump()).affected_rows();
  if (fold.leagues.empty()) return a;
  std::vector<std::string> sum_realms, sum_leagues;
  for (const auto& [realm, league] : fold.leagues) {
    sum_realms.push_back(realm);
    sum_leagues.push_back(league);
  }
  a.written += txn.exec_params(etl_sql::kUpsertStashSummary, PgTextArray(sum_realms),
                               PgTextArray(sum_leagues))
                   .affected_rows();
  return a;
}

}  // namespace sluice::etl
