// Which response headers the throttler learns budgets from. Only these are
// forwarded in observations: the rest (cookies, bodies' metadata) is noise on
// the wire and may carry things the coordinator has no business storing.
#ifndef SLUICE_AGENT_THROTTLE_RATE_LIMIT_HEADERS_H_
#define SLUICE_AGENT_THROTTLE_RATE_LIMIT_HEADERS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/http/header_map.h"
#include "common/wire_limits.h"

namespace sluice::agent {

// X-ESI-Error-Limit-*, X-Ratelimit-* (ESI groups), X-Rate-Limit-* (PoE
// policies, rules and states), Retry-After. Case-insensitive.
bool IsRateLimitHeader(std::string_view name);

// The rate-limit headers of an answer as they go to the coordinator. A
// header the coordinator could not take is left out, not sent: one that is
// not printable ASCII (every rate-limit header ESI and PoE send is; other
// bytes would make the observation unparseable as proto3 text and lose the
// whole batch it travels in), one larger than common/wire_limits.h allows,
// or any past the number of headers an observation may carry.
std::vector<std::pair<std::string, std::string>> ForwardedRateLimitHeaders(
    const HeaderMap& headers);

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_THROTTLE_RATE_LIMIT_HEADERS_H_
