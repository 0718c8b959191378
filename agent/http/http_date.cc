#include "agent/http/http_date.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <string>

#include "agent/http/header_map.h"
#include "absl/time/time.h"

namespace sluice::agent {
namespace {

std::optional<TimePoint> ParseWithFormat(const std::string& text, const char* format) {
  std::tm tm{};
  const char* end = strptime(text.c_str(), format, &tm);
  if (end == nullptr) return std::nullopt;
  while (*end == ' ') ++end;
  if (*end != '\0') return std::nullopt;
  std::time_t secs = timegm(&tm);
  if (secs == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(secs);
}

}  // namespace

std::optional<TimePoint> ParseHttpDate(std::string_view text) {
  std::string s(TrimWhitespace(text));
  if (s.empty()) return std::nullopt;
  // strptime in the C locale: day and month names are English, as HTTP wants.
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                             "%a %b %d %H:%M:%S %Y"}) {
    if (auto t = ParseWithFormat(s, format)) return t;
  }
  return std::nullopt;
}

std::optional<TimePoint> ParseIso8601(std::string_view text) {
  std::string s(TrimWhitespace(text));
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return std::nullopt;
  return absl::ToChronoTime(t);
}

std::optional<Duration> ParseRetryAfter(std::string_view text, TimePoint now) {
  std::string s(TrimWhitespace(text));
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double seconds = std::strtod(s.c_str(), &end);
  if (end != nullptr && *end == '\0') {
    if (!std::isfinite(seconds)) return std::nullopt;
    // A day is already absurd; the cap keeps a hostile header from
    // overflowing the duration arithmetic downstream.
    seconds = std::clamp(seconds, 0.0, 86400.0);
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
  }
  if (auto at = ParseHttpDate(s)) {
    return *at > now ? *at - now : Duration::zero();
  }
  return std::nullopt;
}

}  // namespace sluice::agent
