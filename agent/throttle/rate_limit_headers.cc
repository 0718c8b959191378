#include "agent/throttle/rate_limit_headers.h"

#include "agent/http/header_map.h"

namespace sluice::agent {

bool IsRateLimitHeader(std::string_view name) {
  return StartsWithIgnoreCase(name, "X-ESI-Error-Limit-") ||
         StartsWithIgnoreCase(name, "X-Ratelimit-") ||
         StartsWithIgnoreCase(name, "X-Rate-Limit-") || EqualsIgnoreCase(name, "Retry-After");
}

}  // namespace sluice::agent
