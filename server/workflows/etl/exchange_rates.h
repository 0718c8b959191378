// Currency normalisation: one hourly market of PoE's currency exchange
// ("chaos|divine" with its traded volumes and ratios) becomes a rate of the
// non-reference currency in the reference currency (chaos).
//
// The rate is the hour's traded average: chaos traded / other traded (both
// sides of volume_traded). If nothing traded, it is the midpoint of the
// lowest and highest ratios PoE reports ({"chaos": 180, "divine": 1} means
// 180 chaos per divine). A market that does not involve chaos, or has neither
// volumes nor ratios, gives no rate: this layer converts only what the
// upstream priced directly against the reference.
//
// Thread-safety: pure functions.
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_EXCHANGE_RATES_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_EXCHANGE_RATES_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace sluice::etl {

inline constexpr char kReferenceCurrency[] = "chaos";

struct CurrencyRate {
  std::string currency;       // the non-reference side, e.g. "divine"
  double ratio_to_chaos = 0;  // chaos per 1 unit of currency
  double volume = 0;          // units of currency traded in the hour
  double chaos_volume = 0;    // chaos traded in the hour
};

// nullopt when the market gives no rate (see above). Fields may be null.
std::optional<CurrencyRate> RateFromMarket(const std::string& market_id,
                                           const nlohmann::json& volume_traded,
                                           const nlohmann::json& lowest_ratio,
                                           const nlohmann::json& highest_ratio);

}  // namespace sluice::etl

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_EXCHANGE_RATES_H_
