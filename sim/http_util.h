// Small formatting helpers shared by the ESI and PoE routes: HTTP dates,
// ISO 8601 timestamps, ETags and error bodies.
//
// Thread-safety: pure functions and a plain struct.
#ifndef SLUICE_SIM_HTTP_UTIL_H_
#define SLUICE_SIM_HTTP_UTIL_H_

#include <absl/strings/string_view.h>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace sluice::sim {

// What a route handler produced, before limits and faults decorate it.
struct Reply {
  int status = 200;
  std::string body;
  // Cacheable 200s get ETag, Expires (now + cache_seconds, or `expires`)
  // and Last-Modified.
  bool cacheable = false;
  int cache_seconds = 0;
  TimePoint last_modified;
  // Extra response headers (e.g. X-Pages on paged routes).
  std::vector<std::pair<std::string, std::string>> headers;
  // Set by routes that model ESI's shared cache: the version served was built
  // at last_modified and everyone asking gets it until this instant.
  std::optional<TimePoint> expires;
};

// RFC 7231 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::string HttpDate(TimePoint t);
// "2010-11-04T13:11:00Z", as in ESI's date fields.
std::string IsoDate(int64_t unix_seconds);
// Quoted hex FNV-1a of the body, like ESI's strong ETags.
std::string ETagOf(absl::string_view body);
// {"error": message}, ESI's error shape.
std::string EsiError(absl::string_view message);
// {"error": {"code": code, "message": message}}, PoE's error shape.
std::string PoeError(int code, absl::string_view message);
// Decimal id without sign, leading '+' or overflow; nullopt otherwise.
std::optional<int64_t> ParseId(absl::string_view text);
// Whole seconds in `d`, rounded up; 0 for non-positive durations.
int64_t CeilSeconds(Duration d);

inline constexpr char kJsonType[] = "application/json; charset=UTF-8";

}  // namespace sluice::sim

#endif  // SLUICE_SIM_HTTP_UTIL_H_
