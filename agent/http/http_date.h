// Parsing of the date formats upstreams send: HTTP-date (RFC 7231, used by
// Expires and Retry-After) and ISO-8601/RFC 3339 (ESI's JSON dates, e.g.
// "2010-11-04T13:11:00Z").
#ifndef SLUICE_AGENT_HTTP_HTTP_DATE_H_
#define SLUICE_AGENT_HTTP_HTTP_DATE_H_

#include <optional>
#include <string_view>

#include "common/clock.h"

namespace sluice::agent {

// "Sun, 06 Nov 1994 08:49:37 GMT" (IMF-fixdate). Also accepts the obsolete
// RFC 850 and asctime forms, which RFC 7231 says recipients must accept.
std::optional<TimePoint> ParseHttpDate(std::string_view text);

// "2010-11-04T13:11:00Z", with optional fractional seconds and a numeric
// offset instead of Z.
std::optional<TimePoint> ParseIso8601(std::string_view text);

// Retry-After is either delay-seconds or an HTTP-date; returns the delay
// relative to `now` (never negative), or nullopt if unparseable.
std::optional<Duration> ParseRetryAfter(std::string_view text, TimePoint now);

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_HTTP_HTTP_DATE_H_
