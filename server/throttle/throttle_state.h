// ThrottleSnapshot is the throttler's durable state (learned limits, window
// ledgers, in-flight reservations, restriction ends, ESI error-limit
// remain/reset, counters, route mappings) as plain structs, and its JSON form
// for the `system_state` table (key kThrottleStateKey).
//
// All times are absolute unix seconds (double) so that a coordinator restarted
// in the middle of a restriction keeps it, and a ledger entry comes back when
// it would have without the restart. Unknown JSON fields are ignored;
// missing or mistyped required ones fail DecodeThrottleState (the caller then
// starts from conservative defaults rather than from half a state).
//
// Thread-safety: plain values and reentrant functions.
#ifndef SLUICE_SERVER_THROTTLE_THROTTLE_STATE_H_
#define SLUICE_SERVER_THROTTLE_THROTTLE_STATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace sluice::throttle {

inline constexpr char kThrottleStateKey[] = "throttle/state";
inline constexpr int kThrottleStateVersion = 1;

struct LedgerBucketState {
  double first_resp = 0;
  double resp_hi = 0;
  double sent_lo = 0;
  int64_t units = 0;
};

struct PhantomStepState {
  double until = 0;
  int64_t amount = 0;
};

struct ErrorTimingState {
  double sent_lo = 0;
  double resp_hi = 0;
};

struct BudgetState {
  std::string name;
  std::string kind;  // BudgetKindName()
  bool learned = false;
  bool observed = false;
  int64_t limit = 0;
  double period_seconds = 0;
  double penalty_seconds = 0;
  // Floating window.
  std::vector<LedgerBucketState> ledger;
  std::vector<PhantomStepState> phantom;
  // Error limit.
  int64_t remain = 0;
  std::optional<double> window_end;
  bool probing = false;
  std::vector<ErrorTimingState> recent_errors;
  // Reservations of leases open at snapshot time: restored as spent calls
  // answered at in_flight_resp_hi (the latest they could be answered).
  int64_t in_flight_units = 0;
  int64_t in_flight_calls = 0;
  double in_flight_resp_hi = 0;
  // Restriction.
  double restricted_until = 0;
  int restriction_level = 0;
  std::string restriction_reason;
  // Counters.
  int64_t granted = 0;
  int64_t denied = 0;
  int64_t waits = 0;
  int64_t restrictions = 0;
};

struct PoeTierShapeState {
  int64_t hits = 0;
  double period_seconds = 0;
  double penalty_seconds = 0;
};

struct PoeRuleShapeState {
  std::string name;
  std::vector<PoeTierShapeState> tiers;
};

struct PoePolicyState {
  std::string name;
  std::vector<PoeRuleShapeState> rules;
};

struct EsiGroupState {
  std::string name;
  int64_t limit = 0;
  double period_seconds = 0;
};

struct RouteMappingState {
  std::string route;
  std::string target;  // ESI group or PoE policy
};

struct ThrottleSnapshot {
  int version = kThrottleStateVersion;
  double written_at = 0;
  // True only for the final snapshot of an orderly shutdown: every
  // reservation is in it. Otherwise budgets restart in probe mode.
  bool clean_shutdown = false;
  std::vector<BudgetState> budgets;
  std::vector<RouteMappingState> esi_routes;
  std::vector<EsiGroupState> esi_groups;
  std::vector<RouteMappingState> poe_routes;
  std::vector<PoePolicyState> poe_policies;
};

std::string EncodeThrottleState(const ThrottleSnapshot& snapshot);
absl::StatusOr<ThrottleSnapshot> DecodeThrottleState(absl::string_view json);

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_THROTTLE_STATE_H_
