// CallKey names one throttled call shape: the upstream, the route (path
// template) and, for per-IP upstream rules, the caller's egress address.
// Every throttler entry point takes one; the throttler maps it to budgets.
//
// Plain values; no thread-safety concerns.
#ifndef SLUICE_SERVER_THROTTLE_CALL_KEY_H_
#define SLUICE_SERVER_THROTTLE_CALL_KEY_H_

#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"

namespace sluice::throttle {

enum class Upstream { kEsi, kPoe };

// "esi" / "poe".
const char* UpstreamName(Upstream upstream);
// Exact lower-case names only; nullopt otherwise.
std::optional<Upstream> ParseUpstream(absl::string_view name);

struct CallKey {
  Upstream upstream = Upstream::kEsi;
  std::string route;   // path template, e.g. "/alliances/{id}/"
  std::string egress;  // IP address for per-IP rules; ignored for ESI

  // "esi /alliances/{id}/" (plus " @<egress>" for PoE with an egress): a
  // label for logs and listings.
  std::string Label() const;
};

// Limits that keep hostile or buggy callers from growing the throttler's maps
// without bound or smuggling separators into budget names.
inline constexpr size_t kMaxRouteLength = 256;
inline constexpr size_t kMaxEgressLength = 64;

// OK, or INVALID_ARGUMENT naming the offending field ("route.route ...",
// "route.egress ...") so the service can pass the message to the caller.
absl::Status ValidateCallKey(const CallKey& key);

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_CALL_KEY_H_
