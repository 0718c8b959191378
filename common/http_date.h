// The one parser of HTTP-dates and Retry-After in Sluice, shared by the agent
// (Expires on answers, the wait a 420/429 asks for) and the coordinator's
// throttler (server/throttle/header_parser.h, which turns Retry-After into a
// restriction).
//
//   HTTP-date    Sun, 06 Nov 1994 08:49:37 GMT   (IMF-fixdate, RFC 9110 5.6.7)
//                Sunday, 06-Nov-94 08:49:37 GMT  (obsolete RFC 850; years 69-99 are 19xx)
//                Sun Nov  6 08:49:37 1994        (obsolete asctime)
//   Retry-After  120 | 1.2 (rounded up to 2) | an HTTP-date (RFC 9110 10.2.3)
//
// Recipients must accept the obsolete forms, so all three are. Surrounding
// whitespace is ignored; anything else around a value, an impossible date
// (32 Oct, 30 Feb) or another zone than GMT is not a date.
//
// Thread-safety: pure functions.
#ifndef SLUICE_COMMON_HTTP_DATE_H_
#define SLUICE_COMMON_HTTP_DATE_H_

#include <chrono>
#include <optional>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/clock.h"

namespace sluice {

// Longest Retry-After honoured; longer values are clamped to it (a day of
// silence is already an incident, and a garbage "9999999999" must not park a
// budget for centuries or overflow the arithmetic downstream).
inline constexpr Duration kMaxRetryAfter = std::chrono::hours(24);

// The instant an HTTP-date names, or nullopt if `text` is not one.
std::optional<TimePoint> ParseHttpDate(absl::string_view text);

// Retry-After as the wait from `now`: delay-seconds, where a decimal is
// accepted and rounded up (waiting a fraction longer is safe, shorter is
// not), or an HTTP-date, where a date already past is zero. Clamped to
// kMaxRetryAfter. INVALID_ARGUMENT saying what was wrong for an empty value,
// a negative or non-finite number, or text that is neither.
absl::StatusOr<Duration> ParseRetryAfter(absl::string_view text, TimePoint now);

}  // namespace sluice

#endif  // SLUICE_COMMON_HTTP_DATE_H_
