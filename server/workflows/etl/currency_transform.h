// The currency transform: poe_exchange_raw -> gold_currency_snapshot, the
// rate of each currency in chaos per realm, league and hour
// (exchange_rates.h says how a market gives a rate).
//
// FoldCurrency is the whole logic, a pure function of the raw rows;
// CurrencyTransform reads the rows, folds them and upserts the result.
//
// Thread-safety: FoldCurrency is pure; CurrencyTransform is stateless.
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_CURRENCY_TRANSFORM_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_CURRENCY_TRANSFORM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "server/workflows/etl/transform.h"

namespace sluice::etl {

inline constexpr char kCurrencyTransform[] = "etl:poe_currency";

// One poe_exchange_raw row.
struct ExchangeRawRow {
  int64_t raw_id = 0;
  std::string realm;
  int64_t hour = 0;  // unix time of the hour's start
  std::string league;
  std::string market_id;  // "chaos|divine"
  // JSON text as stored; "null" for a NULL column.
  std::string volume_traded = "null";
  std::string lowest_ratio = "null";
  std::string highest_ratio = "null";
};

// One gold_currency_snapshot row.
struct CurrencySnapshotRow {
  std::string realm;
  std::string league;
  std::string currency;  // the non-chaos side
  int64_t hour = 0;
  double ratio_to_chaos = 0;
  double volume = 0;
  double chaos_volume = 0;
  std::string market_id;
  int64_t raw_id = 0;  // the raw row it came from
};

// One row per (realm, league, currency, hour) the raw rows price against
// chaos, ordered by that key; of several raw rows with the same key the
// later (in input order, i.e. raw_id order) wins. Markets that give no rate
// are left out.
std::vector<CurrencySnapshotRow> FoldCurrency(const std::vector<ExchangeRawRow>& rows);

class CurrencyTransform final : public Transform {
 public:
  const char* name() const override { return kCurrencyTransform; }
  const char* writers_like() const override { return "poe_exchange:%"; }
  int64_t MaxRawId(pqxx::dbtransaction& txn) const override;
  absl::StatusOr<Applied> Apply(pqxx::dbtransaction& txn, int64_t after, int64_t up_to,
                                int limit) const override;
};

}  // namespace sluice::etl

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_CURRENCY_TRANSFORM_H_
