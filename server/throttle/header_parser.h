// Parsing of upstream rate-limit headers into plain structs.
//
// Pure functions, no state and no logging: malformed values come back as
// human-readable `problems` and the caller decides (the throttler logs each
// distinct problem once and otherwise ignores the value). A malformed part
// never produces a partial result that could widen a budget: e.g. if one PoE
// rule's tier header is bad, the whole policy shape is dropped (the throttler
// keeps what it knew), while the well-formed -State headers of other rules
// still apply, since they can only tighten.
//
// Formats (header names are case-insensitive; the first occurrence wins):
//   ESI error limit  X-ESI-Error-Limit-Remain: 87   X-ESI-Error-Limit-Reset: 23 (s)
//   ESI group        X-Ratelimit-Group: char-detail
//                    X-Ratelimit-Limit: 150/15m      (tokens / [count]unit, unit s|m|h|d)
//                    X-Ratelimit-Remaining: 148      X-Ratelimit-Used: 2
//   PoE              X-Rate-Limit-Policy: public-stash-request-limit
//                    X-Rate-Limit-Rules: Ip,Account
//                    X-Rate-Limit-Ip: 45:60:120,180:1800:600   (hits:period s:restriction s)
//                    X-Rate-Limit-Ip-State: 1:60:0,1:1800:0    (hits:period s:active restriction s)
//   Any              Retry-After: 30 | 1.5 (rounded up) | Wed, 21 Oct 2015 07:28:00 GMT
//                    (parsed by common/http_date.h, the agent's parser too, and clamped
//                    to kMaxRetryAfter there)
//
// Thread-safety: all functions are reentrant.
#ifndef SLUICE_SERVER_THROTTLE_HEADER_PARSER_H_
#define SLUICE_SERVER_THROTTLE_HEADER_PARSER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/http_date.h"
#include "server/throttle/call_key.h"

namespace sluice::throttle {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct EsiErrorLimit {
  int64_t remain = 0;
  std::optional<int64_t> reset_seconds;
};

struct EsiGroupLimit {
  std::string group;
  // Present only when X-Ratelimit-Limit parsed.
  std::optional<int64_t> limit;
  std::optional<Duration> window;
  // May be negative if an upstream ever reports an overdraft.
  std::optional<int64_t> remaining;
  std::optional<int64_t> used;
};

struct PoeTier {
  int64_t hits = 0;
  int64_t period_seconds = 0;
  int64_t restriction_seconds = 0;
};

struct PoeTierState {
  int64_t hits = 0;
  int64_t period_seconds = 0;
  int64_t active_restriction_seconds = 0;
};

struct PoeRule {
  std::string name;  // as sent, e.g. "Ip"
  std::vector<PoeTier> tiers;
  // nullopt when the -State header is absent or malformed.
  std::optional<std::vector<PoeTierState>> state;
};

struct PoeLimits {
  std::string policy;
  // Empty when the rule set could not be parsed completely (see file comment);
  // `complete` says whether `rules` is the policy's whole shape.
  std::vector<PoeRule> rules;
  bool complete = false;
};

struct ParsedHeaders {
  std::optional<EsiErrorLimit> esi_error;
  std::optional<EsiGroupLimit> esi_group;
  std::optional<PoeLimits> poe;
  std::optional<Duration> retry_after;
  // One line per malformed or unknown value: "<header>: '<value>': <why>".
  std::vector<std::string> problems;
};

// Parses every header relevant to `upstream`; Retry-After for both (with
// sluice::ParseRetryAfter, common/http_date.h).
ParsedHeaders ParseRateLimitHeaders(Upstream upstream, const HeaderList& headers, TimePoint now);

// Building blocks, exposed for table tests.

// Decimal integer with optional surrounding whitespace and sign.
absl::StatusOr<int64_t> ParseInteger(absl::string_view text);
// "150/15m" -> {150, 15 min}. "150/m" means one minute.
absl::StatusOr<std::pair<int64_t, Duration>> ParseEsiLimit(absl::string_view text);
// "45:60:120,180:1800:600"
absl::StatusOr<std::vector<PoeTier>> ParsePoeTiers(absl::string_view text);
// "1:60:0,1:1800:0"
absl::StatusOr<std::vector<PoeTierState>> ParsePoeTierStates(absl::string_view text);
// True for names usable inside budget names: 1..64 of [A-Za-z0-9._:-].
bool IsSafeName(absl::string_view name);

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_HEADER_PARSER_H_
