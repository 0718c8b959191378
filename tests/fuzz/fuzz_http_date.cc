// Fuzzes common/http_date.h (ParseHttpDate, ParseRetryAfter: the agent's
// Expires and Retry-After, the throttler's Retry-After) and, on the dates it
// accepts, common/rfc3339.h (FormatRfc3339). The input is one header value.
//
// Checks: surrounding whitespace changes nothing; Retry-After is within
// [0, kMaxRetryAfter], equals the wait to the date when the value is a date
// and the number of seconds when it is plain digits; an accepted date
// written back as an IMF-fixdate parses to the same instant, and its RFC 3339
// text parses (absl's RFC3339_full, what PostgreSQL and ESI's parser read) to
// the same instant too.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/http_date.h"
#include "common/rfc3339.h"

namespace {

using sluice::Duration;
using sluice::TimePoint;

void Fail(const char* what, absl::string_view input) {
  std::fprintf(stderr, "invariant broken: %s (input '%.*s')\n", what,
               static_cast<int>(input.size()), input.data());
  std::abort();
}

// A TimePoint at the edge of what system_clock holds: ParseHttpDate
// saturates dates outside 1677..2262 there (absl::ToChronoTime).
bool Saturated(TimePoint t) { return t == TimePoint::min() || t == TimePoint::max(); }

void CheckRetryAfter(absl::string_view text, TimePoint now) {
  absl::StatusOr<Duration> d = sluice::ParseRetryAfter(text, now);
  if (!d.ok()) {
    if (d.status().message().empty()) Fail("Retry-After error without a message", text);
    return;
  }
  if (*d < Duration::zero() || *d > sluice::kMaxRetryAfter) Fail("Retry-After out of range", text);
  absl::string_view stripped = absl::StripAsciiWhitespace(text);
  if (std::optional<TimePoint> at = sluice::ParseHttpDate(stripped)) {
    Duration expected =
        *at <= now ? Duration::zero() : std::min<Duration>(*at - now, sluice::kMaxRetryAfter);
    if (*d != expected) Fail("Retry-After date is not the wait to it", text);
  }
  // Plain digits: exactly that many seconds, clamped.
  if (!stripped.empty() && stripped.size() <= 15 &&
      stripped.find_first_not_of("0123456789") == absl::string_view::npos) {
    int64_t seconds = 0;
    if (!absl::SimpleAtoi(stripped, &seconds)) Fail("digits are not a number", text);
    const int64_t max_seconds =
        std::chrono::duration_cast<std::chrono::seconds>(sluice::kMaxRetryAfter).count();
    const Duration expected = std::chrono::seconds(std::min(seconds, max_seconds));
    if (*d != expected) Fail("Retry-After seconds changed", text);
  }
}

void CheckDate(absl::string_view text) {
  std::optional<TimePoint> t = sluice::ParseHttpDate(text);
  std::string padded = " \t" + std::string(text) + "\r\n ";
  if (sluice::ParseHttpDate(padded) != t) Fail("surrounding whitespace changed the date", text);
  if (!t || Saturated(*t)) return;
  const absl::Time at = absl::FromChrono(*t);
  // IMF-fixdate, what an upstream sends.
  std::string imf = absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", at, absl::UTCTimeZone());
  std::optional<TimePoint> again = sluice::ParseHttpDate(imf);
  if (!again || *again != std::chrono::floor<std::chrono::seconds>(*t)) {
    Fail("date written as IMF-fixdate does not parse back", text);
  }
  // RFC 3339 with microseconds, what logs and PostgreSQL get.
  std::string rfc = sluice::FormatRfc3339(*t);
  absl::Time parsed;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, rfc, &parsed, &err) ||
      absl::ToChronoTime(parsed) != std::chrono::floor<std::chrono::microseconds>(*t)) {
    Fail("FormatRfc3339 of a parsed date does not parse back", text);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  CheckDate(text);
  // A fixed, whole-second now (2026-12-06T00:08:20Z), and one 50 years on.
  const TimePoint now{std::chrono::seconds(1796515700)};
  CheckRetryAfter(text, now);
  CheckRetryAfter(text, now + std::chrono::hours(24 * 365 * 50));
  return 0;
}
