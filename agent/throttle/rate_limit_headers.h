// Which response headers the throttler learns budgets from. Only these are
// forwarded in observations: the rest (cookies, bodies' metadata) is noise on
// the wire and may carry things the coordinator has no business storing.
#ifndef SLUICE_AGENT_THROTTLE_RATE_LIMIT_HEADERS_H_
#define SLUICE_AGENT_THROTTLE_RATE_LIMIT_HEADERS_H_

#include <string_view>

namespace sluice::agent {

// X-ESI-Error-Limit-*, X-Ratelimit-* (ESI groups), X-Rate-Limit-* (PoE
// policies, rules and states), Retry-After. Case-insensitive.
bool IsRateLimitHeader(std::string_view name);

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_THROTTLE_RATE_LIMIT_HEADERS_H_
