#include "common/http_date.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/time/time.h"

namespace sluice {

std::optional<TimePoint> ParseHttpDate(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return std::nullopt;
  // absl::ParseTime rejects out-of-range fields (no 30 Feb becoming 2 Mar)
  // and reads day and month names in English whatever the locale.
  static const char* const kFormats[] = {
      "%a, %d %b %Y %H:%M:%S GMT",  // IMF-fixdate
      "%A, %d-%b-%y %H:%M:%S GMT",  // RFC 850
      "%a %b %e %H:%M:%S %Y",       // asctime: the day is space-padded
  };
  for (const char* format : kFormats) {
    absl::Time t;
    std::string err;
    if (absl::ParseTime(format, text, absl::UTCTimeZone(), &t, &err)) {
      return absl::ToChronoTime(t);
    }
  }
  return std::nullopt;
}

absl::StatusOr<Duration> ParseRetryAfter(absl::string_view text, TimePoint now) {
  text = absl::StripAsciiWhitespace(text);
  if (text.empty()) return absl::InvalidArgumentError("empty");
  if (absl::ascii_isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-') {
    // Digits with an optional fraction or exponent only: SimpleAtod would
    // also take hex ("0x10"), which no upstream means.
    double seconds = 0;
    if (text.find_first_not_of("0123456789.eE+-") != absl::string_view::npos ||
        !absl::SimpleAtod(text, &seconds)) {
      return absl::InvalidArgumentError("not a number of seconds");
    }
    if (!std::isfinite(seconds)) {
      return absl::InvalidArgumentError("not a finite number of seconds");
    }
    if (seconds < 0) return absl::InvalidArgumentError("negative number of seconds");
    const double max_seconds = std::chrono::duration<double>(kMaxRetryAfter).count();
    const double rounded = std::ceil(std::min(seconds, max_seconds));
    return Duration(std::chrono::seconds(static_cast<int64_t>(rounded)));
  }
  if (std::optional<TimePoint> at = ParseHttpDate(text)) {
    if (*at <= now) return Duration::zero();
    return std::min<Duration>(*at - now, kMaxRetryAfter);
  }
  return absl::InvalidArgumentError("neither seconds nor an HTTP-date");
}

}  // namespace sluice
