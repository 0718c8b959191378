#include "agent/throttle/rate_limit_headers.h"

namespace sluice::agent {

bool IsRateLimitHeader(std::string_view name) {
  return StartsWithIgnoreCase(name, "X-ESI-Error-Limit-") ||
         StartsWithIgnoreCase(name, "X-Ratelimit-") ||
         StartsWithIgnoreCase(name, "X-Rate-Limit-") || EqualsIgnoreCase(name, "Retry-After");
}

std::vector<std::pair<std::string, std::string>> ForwardedRateLimitHeaders(
    const HeaderMap& headers) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : headers.entries()) {
    if (!IsRateLimitHeader(name) || name.size() > kMaxHeaderNameBytes ||
        value.size() > kMaxHeaderValueBytes || !IsPrintableAscii(name) ||
        !IsPrintableAscii(value)) {
      continue;
    }
    if (out.size() >= static_cast<size_t>(kMaxObservationHeaders)) break;
    out.emplace_back(name, value);
  }
  return out;
}

}  // namespace sluice::agent
