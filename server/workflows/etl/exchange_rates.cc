#include "server/workflows/etl/exchange_rates.h"

#include <cmath>

namespace sluice::etl {
namespace {

// A positive finite number under key, else nullopt (numbers may come as
// strings).
std::optional<double> Number(const nlohmann::json& obj, const std::string& key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end()) return std::nullopt;
  double v = 0;
  if (it->is_number()) {
    v = it->get<double>();
  } else if (it->is_string()) {
    char* end = nullptr;
    const std::string& s = it->get_ref<const std::string&>();
    v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0') return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(v) || v <= 0) return std::nullopt;
  return v;
}

// chaos per unit of other in a ratio object, if both sides are there.
std::optional<double> RatioOf(const nlohmann::json& ratio, const std::string& other) {
  auto chaos = Number(ratio, kReferenceCurrency);
  auto o = Number(ratio, other);
  if (!chaos || !o) return std::nullopt;
  return *chaos / *o;
}

}  // namespace

std::optional<CurrencyRate> RateFromMarket(const std::string& market_id,
                                           const nlohmann::json& volume_traded,
                                           const nlohmann::json& lowest_ratio,
                                           const nlohmann::json& highest_ratio) {
  const size_t bar = market_id.find('|');
  if (bar == std::string::npos) return std::nullopt;
  const std::string a = market_id.substr(0, bar);
  const std::string b = market_id.substr(bar + 1);
  std::string other;
  if (a == kReferenceCurrency && !b.empty() && b != kReferenceCurrency) {
    other = b;
  } else if (b == kReferenceCurrency && !a.empty() && a != kReferenceCurrency) {
    other = a;
  } else {
    return std::nullopt;
  }
  CurrencyRate rate;
  rate.currency = other;
  auto chaos_vol = Number(volume_traded, kReferenceCurrency);
  auto other_vol = Number(volume_traded, other);
  rate.chaos_volume = chaos_vol.value_or(0);
  rate.volume = other_vol.value_or(0);
  if (chaos_vol && other_vol) {
    rate.ratio_to_chaos = *chaos_vol / *other_vol;
    return rate;
  }
  auto lo = RatioOf(lowest_ratio, other);
  auto hi = RatioOf(highest_ratio, other);
  if (lo && hi) {
    rate.ratio_to_chaos = (*lo + *hi) / 2;
  } else if (lo || hi) {
    rate.ratio_to_chaos = lo ? *lo : *hi;
  } else {
    return std::nullopt;
  }
  return rate;
}

}  // namespace sluice::etl
