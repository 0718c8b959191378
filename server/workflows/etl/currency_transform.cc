#include "server/workflows/etl/currency_transform.h"

#include <map>
#include <nlohmann/json.hpp>
#include <tuple>
#include <utility>

#include "server/workflows/etl/etl_sql.h"
#include "server/workflows/etl/exchange_rates.h"

namespace sluice::etl {

using Json = nlohmann::json;

std::vector<CurrencySnapshotRow> FoldCurrency(const std::vector<ExchangeRawRow>& rows) {
  std::map<std::tuple<std::string, std::string, std::string, int64_t>, CurrencySnapshotRow> out;
  for (const ExchangeRawRow& r : rows) {
    auto rate = RateFromMarket(r.market_id, Json::parse(r.volume_traded, nullptr, false),
                               Json::parse(r.lowest_ratio, nullptr, false),
                               Json::parse(r.highest_ratio, nullptr, false));
    if (!rate) continue;  // not priced against chaos, or no numbers
    out[{r.realm, r.league, rate->currency, r.hour}] = CurrencySnapshotRow{
        r.realm,      r.league,           rate->currency, r.hour,  rate->ratio_to_chaos,
        rate->volume, rate->chaos_volume, r.market_id,    r.raw_id};
  }
  std::vector<CurrencySnapshotRow> result;
  result.reserve(out.size());
  for (auto& [key, row] : out) result.push_back(std::move(row));
  return result;
}

int64_t CurrencyTransform::MaxRawId(pqxx::dbtransaction& txn) const {
  return txn.exec(etl_sql::kExchangeMaxRawId)[0][0].as<int64_t>();
}

absl::StatusOr<Applied> CurrencyTransform::Apply(pqxx::dbtransaction& txn, int64_t after,
                                                 int64_t up_to, int limit) const {
  Applied a;
  std::vector<ExchangeRawRow> rows;
  for (const auto& r : txn.exec_params(etl_sql::kReadExchangeRaw, after, up_to, limit)) {
    ExchangeRawRow row;
    row.raw_id = r[0].as<int64_t>();
    row.realm = r[1].as<std::string>();
    row.hour = r[2].as<int64_t>();
    row.league = r[3].as<std::string>();
    row.market_id = r[4].as<std::string>();
    row.volume_traded = r[5].as<std::string>();
    row.lowest_ratio = r[6].as<std::string>();
    row.highest_ratio = r[7].as<std::string>();
    a.last_raw_id = row.raw_id;
    a.raw_rows++;
    rows.push_back(std::move(row));
  }
  const std::vector<CurrencySnapshotRow> snapshot = FoldCurrency(rows);
  if (snapshot.empty()) return a;
  Json arr = Json::array();
  for (const CurrencySnapshotRow& s : snapshot) {
    arr.push_back({{"realm", s.realm},
                   {"league", s.league},
                   {"currency", s.currency},
                   {"hour", s.hour},
                   {"ratio", s.ratio_to_chaos},
                   {"volume", s.volume},
                   {"chaos_volume", s.chaos_volume},
                   {"market_id", s.market_id},
                   {"raw_id", s.raw_id}});
  }
  a.written += txn.exec_params(etl_sql::kUpsertCurrencySnapshot, arr.dump()).affected_rows();
  return a;
}

}  // namespace sluice::etl
