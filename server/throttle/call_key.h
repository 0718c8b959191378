// CallKey names one throttled call: the upstream, the route (path template),
// the address the call leaves from (egress) and the identity the upstream
// bills it to (caller). Every throttler entry point takes one; RouteMap turns
// it into the budgets that govern the call.
//
// Who pays for a call is the upstream's rule, not ours (esi-docs "Rate
// Limiting", "Bucket System"; GGG's developer docs, "Rate Limits"):
//   * ESI bills each (rate-limit group, caller) pair on its own bucket: the
//     caller is the character of the access token for an authenticated call,
//     the source address for a public one. Its error limit is per address.
//   * PoE scopes each rule by its name: Ip per source address, Account per
//     OAuth account, Client per OAuth client.
// So `caller` is set only for authenticated calls ("char:<id>" for ESI,
// "account:<name>" for PoE) and `egress` is the agent's source address.
// An empty egress means "unknown": every such caller shares one budget, which
// can only under-use an allowance, never overshoot it.
//
// Plain values; no thread-safety concerns.
#ifndef SLUICE_SERVER_THROTTLE_CALL_KEY_H_
#define SLUICE_SERVER_THROTTLE_CALL_KEY_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace sluice::throttle {

enum class Upstream { kEsi, kPoe };

// "esi" / "poe".
const char* UpstreamName(Upstream upstream);
// Exact lower-case names only; nullopt otherwise.
std::optional<Upstream> ParseUpstream(absl::string_view name);

struct CallKey {
  Upstream upstream = Upstream::kEsi;
  std::string route;   // path template, e.g. "/alliances/{id}/"
  std::string egress;  // source address of the call; "" = unknown
  std::string caller;  // billed identity of an authenticated call; "" = public

  // "esi /alliances/{id}/" plus " as <caller>" and " @<egress>" when set: a
  // label for logs and listings.
  std::string Label() const;
};

// Limits that keep hostile or buggy callers from growing the throttler's maps
// without bound or smuggling separators into budget names.
inline constexpr size_t kMaxRouteLength = 256;
inline constexpr size_t kMaxEgressLength = 64;
inline constexpr size_t kMaxCallerLength = 64;

// OK, or INVALID_ARGUMENT naming the offending field ("route.route ...",
// "route.egress ...", "route.caller ...") so the service can pass the message
// to the caller.
absl::Status ValidateCallKey(const CallKey& key);

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_CALL_KEY_H_
