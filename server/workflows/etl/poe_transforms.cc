#include "server/workflows/etl/poe_transforms.h"

#include <glog/logging.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "common/time_util.h"
#include "server/workflows/etl/exchange_rates.h"
#include "server/workflows/etl/price_parser.h"

namespace sluice::etl {
namespace {

using Json = nlohmann::json;

absl::StatusOr<int64_t> ParseCursor(const std::string& stream, const std::string& cursor) {
  if (cursor.empty()) return 0;
  if (cursor.size() > 18) return absl::DataLossError(stream + ": cursor '" + cursor + "' is not a raw_id");
  for (char c : cursor) {
    if (c < '0' || c > '9') {
      return absl::DataLossError(stream + ": cursor '" + cursor + "' is not a raw_id");
    }
  }
  return std::stoll(cursor);
}

// The greatest raw_id whose transaction has committed (see the header).
absl::StatusOr<int64_t> HighWater(PgPool* pool, const std::string& writers_like,
                                  const std::string& raw_table) {
  int64_t mark = 0;
  absl::Status s = pool->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    w.exec_params("SELECT stream FROM checkpoints WHERE stream LIKE $1 ORDER BY stream FOR SHARE",
                  writers_like);
    mark = w.exec("SELECT coalesce(max(raw_id), 0) FROM " + raw_table)[0][0].as<int64_t>();
    w.commit();
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return mark;
}

// What one batch's body did.
struct Applied {
  int64_t last_raw_id = 0;  // 0: no rows
  int64_t raw_rows = 0;
  int64_t written = 0;
};

using BatchBody = std::function<absl::StatusOr<Applied>(pqxx::work&, int64_t from, int64_t mark)>;

// Runs one batch of transform `name` over raw rows of `raw_table`, whose
// writers hold the checkpoint rows matching `writers_like`.
absl::StatusOr<BatchResult> RunBatch(
    PgPool* pool, const Clock* clock, const std::string& name, const std::string& writers_like,
    const std::string& raw_table, const BatchBody& body,
    const std::function<absl::Status(const std::string&)>& hook) {
  auto mark = HighWater(pool, writers_like, raw_table);
  if (!mark.ok()) return mark.status();
  BatchResult result;
  result.high_water = *mark;
  if (*mark == 0) {
    // No raw row ever: nothing to do, and no checkpoint row to create yet (a
    // coordinator without PoE streams keeps its checkpoints table clean).
    result.caught_up = true;
    return result;
  }
  const std::string now = FormatRfc3339(clock->Now());
  absl::Status s = pool->Run([&](pqxx::connection& conn) -> absl::Status {
    pqxx::work w(conn);
    w.exec_params(
        "INSERT INTO checkpoints (stream, cursor, updated_at, created_at) "
        "VALUES ($1, '', $2::timestamptz, $2::timestamptz) ON CONFLICT (stream) DO NOTHING",
        name, now);
    auto cursor = ParseCursor(
        name, w.exec_params("SELECT cursor FROM checkpoints WHERE stream = $1 FOR UPDATE", name)[0][0]
                  .as<std::string>());
    if (!cursor.ok()) return cursor.status();
    result.cursor_before = result.cursor_after = *cursor;
    Applied applied;
    if (*cursor < *mark) {
      auto a = body(w, *cursor, *mark);
      if (!a.ok()) return a.status();
      applied = *a;
    }
    if (hook) {
      if (absl::Status h = hook(name); !h.ok()) return h;
    }
    if (applied.raw_rows > 0 && applied.last_raw_id > *cursor) {
      result.cursor_after = applied.last_raw_id;
      const bool at_head = applied.last_raw_id >= *mark;
      w.exec_params(
          "UPDATE checkpoints SET cursor = $2, updated_at = $3::timestamptz, "
          "polled_at = $3::timestamptz, pages = pages + 1, rows = rows + $4, "
          "head_at = CASE WHEN $5 THEN $3::timestamptz ELSE head_at END WHERE stream = $1",
          name, std::to_string(applied.last_raw_id), now, applied.raw_rows, at_head);
      w.exec_params(
          "INSERT INTO checkpoint_transitions (stream, from_cursor, to_cursor, rows, agent_id, "
          "accepted, reason, at) VALUES ($1, $2, $3, $4, 'coordinator', true, NULL, $5::timestamptz)",
          name, std::to_string(*cursor), std::to_string(applied.last_raw_id),
          static_cast<int>(applied.raw_rows), now);
    } else {
      // Nothing new: we are at the head of the raw table.
      w.exec_params(
          "UPDATE checkpoints SET polled_at = $2::timestamptz, head_at = $2::timestamptz, "
          "empty_polls = empty_polls + 1 WHERE stream = $1",
          name, now);
    }
    w.commit();
    result.raw_rows = applied.raw_rows;
    result.rows_written = applied.written;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  result.caught_up = result.cursor_after >= result.high_water;
  return result;
}

// ---- currency ----

absl::StatusOr<Applied> ApplyCurrency(pqxx::work& w, int64_t from, int64_t mark, int batch) {
  Applied a;
  auto rows = w.exec_params(
      "SELECT raw_id, realm, hour, league, market_id, volume_traded::text, "
      "coalesce(lowest_ratio::text, 'null'), coalesce(highest_ratio::text, 'null') "
      "FROM poe_exchange_raw WHERE raw_id > $1 AND raw_id <= $2 ORDER BY raw_id LIMIT $3",
      from, mark, batch);
  // (realm, league, currency, hour) -> row; a later raw row wins.
  std::map<std::tuple<std::string, std::string, std::string, int64_t>, Json> out;
  for (const auto& r : rows) {
    a.last_raw_id = r[0].as<int64_t>();
    a.raw_rows++;
    const std::string realm = r[1].as<std::string>();
    const int64_t hour = r[2].as<int64_t>();
    const std::string league = r[3].as<std::string>();
    const std::string market = r[4].as<std::string>();
    auto rate = RateFromMarket(market, Json::parse(r[5].c_str(), nullptr, false),
                               Json::parse(r[6].c_str(), nullptr, false),
                               Json::parse(r[7].c_str(), nullptr, false));
    if (!rate) continue;  // not priced against chaos, or no numbers
    out[{realm, league, rate->currency, hour}] = Json{
        {"realm", realm},        {"league", league},
        {"currency", rate->currency}, {"hour", hour},
        {"ratio", rate->ratio_to_chaos}, {"volume", rate->volume},
        {"chaos_volume", rate->chaos_volume}, {"market_id", market},
        {"raw_id", a.last_raw_id}};
  }
  if (out.empty()) return a;
  Json arr = Json::array();
  for (auto& [k, v] : out) arr.push_back(std::move(v));
  a.written += w.exec_params(R"sql(
INSERT INTO gold_currency_snapshot AS g (realm, league, currency, hour, ratio_to_chaos, volume,
                                         chaos_volume, market_id, raw_id)
SELECT realm, league, currency, hour, ratio, volume, chaos_volume, market_id, raw_id
FROM jsonb_to_recordset($1::jsonb) AS t(realm text, league text, currency text, hour bigint,
                                        ratio float8, volume float8, chaos_volume float8,
                                        market_id text, raw_id bigint)
ON CONFLICT (realm, league, currency, hour) DO UPDATE SET
  ratio_to_chaos = EXCLUDED.ratio_to_chaos, volume = EXCLUDED.volume,
  chaos_volume = EXCLUDED.chaos_volume, market_id = EXCLUDED.market_id, raw_id = EXCLUDED.raw_id
)sql", arr.dump()).affected_rows();
  return a;
}

// ---- stashes ----

struct ItemState {
  Price price;
  std::string listed_at;  // timestamptz text
};

struct StashVersion {
  int64_t raw_id = 0;
  std::string change_id, account_name, stash_name, stash_type, ingested_at;
  bool has_account = false, has_name = false, has_type = false;
  bool is_public = false;
  int item_count = 0;
  Json items = Json::array();  // priced items of this version, as silver rows
};

struct StashState {
  std::string league;
  std::map<std::string, ItemState> items;  // item_id -> state
  std::optional<StashVersion> last;
};

using StashKey = std::pair<std::string, std::string>;  // realm, stash_id

std::string Str(const Json& item, const char* key) {
  auto it = item.find(key);
  if (it == item.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

constexpr char kInsertItemsSql[] = R"sql(
INSERT INTO poe_item_price_silver AS p (realm, item_id, league, stash_id, name, type_line, base_type,
    stack_size, price_kind, price_source, price_amount, price_currency, price_in_chaos, rate_hour,
    no_rate_reason, listed_at, updated_at, raw_id)
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

constexpr char kUpsertStashesSql[] = R"sql(
INSERT INTO poe_stash_silver AS s (realm, stash_id, league, account_name, stash_name, stash_type,
    public, item_count, priced_items, change_id, raw_id, updated_at)
SELECT realm, stash_id, league, account_name, stash_name, stash_type, public, item_count,
       priced_items, change_id, raw_id, updated_at::timestamptz
FROM jsonb_to_recordset($1::jsonb) AS t(realm text, stash_id text, league text, account_name text,
     stash_name text, stash_type text, public boolean, item_count int, priced_items int,
     change_id text, raw_id bigint, updated_at text)
ON CONFLICT (realm, stash_id) DO UPDATE SET
  league = EXCLUDED.league, account_name = EXCLUDED.account_name,
  stash_name = EXCLUDED.stash_name, stash_type = EXCLUDED.stash_type, public = EXCLUDED.public,
  item_count = EXCLUDED.item_count, priced_items = EXCLUDED.priced_items,
  change_id = EXCLUDED.change_id, raw_id = EXCLUDED.raw_id, updated_at = EXCLUDED.updated_at
)sql";

// Sums in numeric so the total does not depend on the order rows are read.
constexpr char kSummarySql[] = R"sql(
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

absl::StatusOr<Applied> ApplyStashes(pqxx::work& w, int64_t from, int64_t mark, int batch) {
  Applied a;
  auto rows = w.exec_params(
      "SELECT raw_id, realm, league, stash_id, change_id, account_name, stash_name, stash_type, "
      "public, items::text, ingested_at::text "
      "FROM poe_stash_raw WHERE raw_id > $1 AND raw_id <= $2 ORDER BY raw_id LIMIT $3",
      from, mark, batch);
  if (rows.empty()) return a;

  // The touched stashes and their current silver state.
  std::map<StashKey, StashState> state;
  std::vector<std::string> realms, ids;
  for (const auto& r : rows) {
    StashKey k{r[1].as<std::string>(), r[3].as<std::string>()};
    if (state.emplace(k, StashState{}).second) {
      realms.push_back(k.first);
      ids.push_back(k.second);
    }
  }
  const std::string realms_arr = PgTextArray(realms), ids_arr = PgTextArray(ids);
  for (const auto& r : w.exec_params(
           "SELECT s.realm, s.stash_id, s.league FROM poe_stash_silver s "
           "JOIN unnest($1::text[], $2::text[]) AS k(realm, stash_id) "
           "ON s.realm = k.realm AND s.stash_id = k.stash_id",
           realms_arr, ids_arr)) {
    state[{r[0].as<std::string>(), r[1].as<std::string>()}].league = r[2].as<std::string>();
  }
  for (const auto& r : w.exec_params(
           "SELECT p.realm, p.stash_id, p.item_id, p.price_kind, p.price_amount, p.price_currency, "
           "p.listed_at::text FROM poe_item_price_silver p "
           "JOIN unnest($1::text[], $2::text[]) AS k(realm, stash_id) "
           "ON p.realm = k.realm AND p.stash_id = k.stash_id",
           realms_arr, ids_arr)) {
    ItemState it;
    it.price = Price{r[3].as<std::string>(), r[4].as<double>(), r[5].as<std::string>()};
    it.listed_at = r[6].as<std::string>();
    state[{r[0].as<std::string>(), r[1].as<std::string>()}].items[r[2].as<std::string>()] = it;
  }
  // (realm, league) whose summaries change; a stash whose league PoE never
  // named ('') is in no league's summary.
  std::set<StashKey> leagues_touched;
  auto touch = [&](const std::string& realm, const std::string& league) {
    if (!league.empty()) leagues_touched.insert({realm, league});
  };
  for (const auto& [k, st] : state) touch(k.first, st.league);

  // Fold every version in raw_id order.
  int64_t bad_items = 0;
  for (const auto& r : rows) {
    a.last_raw_id = r[0].as<int64_t>();
    a.raw_rows++;
    const StashKey key{r[1].as<std::string>(), r[3].as<std::string>()};
    StashState& st = state[key];
    const std::string league = r[2].as<std::string>();
    if (!league.empty()) st.league = league;  // '' = PoE's "league null" (private / emptied)
    touch(key.first, st.league);
    StashVersion v;
    v.raw_id = a.last_raw_id;
    v.change_id = r[4].as<std::string>();
    v.has_account = !r[5].is_null();
    v.account_name = r[5].is_null() ? "" : r[5].as<std::string>();
    v.has_name = !r[6].is_null();
    v.stash_name = r[6].is_null() ? "" : r[6].as<std::string>();
    v.has_type = !r[7].is_null();
    v.stash_type = r[7].is_null() ? "" : r[7].as<std::string>();
    v.is_public = r[8].as<bool>();
    v.ingested_at = r[10].as<std::string>();
    Json items = Json::parse(r[9].c_str(), nullptr, false);
    if (!items.is_array()) {
      LOG(WARNING) << "etl: raw stash " << v.raw_id << " (" << key.second
                   << "): items is not an array; treated as empty";
      items = Json::array();
    }
    v.item_count = static_cast<int>(items.size());
    std::map<std::string, ItemState> next;
    for (const Json& item : items) {
      const std::string id = item.is_object() ? Str(item, "id") : "";
      if (id.empty() || next.count(id)) {  // no id, or the same id twice in one stash
        bad_items++;
        continue;
      }
      auto price = ResolvePrice(Str(item, "note"), v.stash_name);
      if (!price) continue;
      ItemState is;
      is.price = price->price;
      auto old = st.items.find(id);
      is.listed_at = (old != st.items.end() && old->second.price == is.price) ? old->second.listed_at
                                                                              : v.ingested_at;
      Json row = {{"realm", key.first},
                  {"item_id", id},
                  {"stash_id", key.second},
                  {"name", Str(item, "name")},
                  {"type_line", Str(item, "typeLine")},
                  {"base_type", Str(item, "baseType")},
                  {"stack_size", nullptr},
                  {"price_kind", is.price.kind},
                  {"price_source", price->source},
                  {"price_amount", is.price.amount},
                  {"price_currency", is.price.currency},
                  {"listed_at", is.listed_at},
                  {"updated_at", v.ingested_at},
                  {"raw_id", v.raw_id}};
      if (auto it = item.find("stackSize"); it != item.end() && it->is_number_integer()) {
        row["stack_size"] = it->get<int64_t>();
      }
      next[id] = is;
      v.items.push_back(std::move(row));
    }
    st.items = std::move(next);
    st.last = std::move(v);
  }
  if (bad_items > 0) LOG(WARNING) << "etl: skipped " << bad_items << " item(s) without an id or with a repeated one";

  // An item listed in two stashes' final versions (moved) belongs to the
  // later version.
  std::map<StashKey, int64_t> item_owner;  // (realm, item_id) -> raw_id
  for (const auto& [key, st] : state) {
    if (!st.last) continue;
    for (const Json& row : st.last->items) {
      int64_t& owner = item_owner[{key.first, row["item_id"].get<std::string>()}];
      owner = std::max(owner, st.last->raw_id);
    }
  }
  Json stash_rows = Json::array(), item_rows = Json::array();
  for (auto& [key, st] : state) {
    if (!st.last) continue;
    StashVersion& v = *st.last;
    Json priced = Json::array();
    for (Json& row : v.items) {
      if (item_owner[{key.first, row["item_id"].get<std::string>()}] != v.raw_id) continue;
      row["league"] = st.league;
      priced.push_back(std::move(row));
    }
    stash_rows.push_back({{"realm", key.first},
                          {"stash_id", key.second},
                          {"league", st.league},
                          {"account_name", v.has_account ? Json(v.account_name) : Json()},
                          {"stash_name", v.has_name ? Json(v.stash_name) : Json()},
                          {"stash_type", v.has_type ? Json(v.stash_type) : Json()},
                          {"public", v.is_public},
                          {"item_count", v.item_count},
                          {"priced_items", static_cast<int>(priced.size())},
                          {"change_id", v.change_id},
                          {"raw_id", v.raw_id},
                          {"updated_at", v.ingested_at}});
    for (Json& row : priced) item_rows.push_back(std::move(row));
  }

  // Replace the touched stashes' items, then their rows, then the leagues'
  // summaries.
  a.written += w.exec_params(
                    "DELETE FROM poe_item_price_silver p USING unnest($1::text[], $2::text[]) "
                    "AS k(realm, stash_id) WHERE p.realm = k.realm AND p.stash_id = k.stash_id",
                    realms_arr, ids_arr)
                   .affected_rows();
  if (!item_rows.empty()) {
    a.written += w.exec_params(kInsertItemsSql, item_rows.dump()).affected_rows();
  }
  a.written += w.exec_params(kUpsertStashesSql, stash_rows.dump()).affected_rows();
  if (leagues_touched.empty()) return a;
  std::vector<std::string> sum_realms, sum_leagues;
  for (const auto& [realm, league] : leagues_touched) {
    sum_realms.push_back(realm);
    sum_leagues.push_back(league);
  }
  a.written += w.exec_params(kSummarySql, PgTextArray(sum_realms), PgTextArray(sum_leagues))
                   .affected_rows();
  return a;
}

}  // namespace

absl::StatusOr<BatchResult> PoeTransforms::RunCurrencyBatch() {
  const int batch = batch_size_;
  return RunBatch(
      pool_, clock_, kCurrencyTransform, "poe_exchange:%", "poe_exchange_raw",
      [batch](pqxx::work& w, int64_t from, int64_t mark) { return ApplyCurrency(w, from, mark, batch); },
      before_commit_hook_);
}

absl::StatusOr<BatchResult> PoeTransforms::RunStashBatch() {
  const int batch = batch_size_;
  return RunBatch(
      pool_, clock_, kStashTransform, "poe_stash:%", "poe_stash_raw",
      [batch](pqxx::work& w, int64_t from, int64_t mark) { return ApplyStashes(w, from, mark, batch); },
      before_commit_hook_);
}

absl::StatusOr<PassResult> PoeTransforms::RunPass(int max_batches, const std::atomic<bool>* stop) {
  PassResult pass;
  bool caught_up = true;
  for (int which = 0; which < 2; ++which) {
    for (int i = 0; i < max_batches; ++i) {
      if (stop && stop->load()) return pass;
      auto r = which == 0 ? RunCurrencyBatch() : RunStashBatch();
      if (!r.ok()) return r.status();
      pass.batches++;
      pass.raw_rows += r->raw_rows;
      pass.rows_written += r->rows_written;
      if (r->caught_up) break;
      if (i + 1 == max_batches) caught_up = false;
    }
  }
  pass.caught_up = caught_up;
  return pass;
}

}  // namespace sluice::etl
