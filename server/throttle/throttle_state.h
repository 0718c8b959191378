// The throttler's durable state (learned limits, window ledgers, in-flight
// reservations, restriction ends, ESI error-limit remain/reset, counters,
// route mappings) as plain structs, and their JSON forms for the
// `system_state` table.
//
// Layout (version 2): one row per budget, so a write carries only what
// changed (100,000 characters' budgets must not be rewritten every 500 ms):
//   throttle/v2/meta           written_at, clean_shutdown
//   throttle/v2/map            route -> group/policy, learned limits, family counters
//   throttle/v2/budget/<name>  one BudgetState
// Version 1 kept everything in one `throttle/state` document; it is still
// read (EncodeThrottleState/DecodeThrottleState) so an upgrade keeps what it
// learned.
//
// All times are absolute unix seconds (double) so that a coordinator restarted
// in the middle of a restriction keeps it, and a ledger entry comes back when
// it would have without the restart. Unknown JSON fields are ignored;
// missing or mistyped required ones fail decoding (the caller then starts
// from conservative defaults rather than from half a state).
//
// Thread-safety: plain values and reentrant functions.
#ifndef SLUICE_SERVER_THROTTLE_THROTTLE_STATE_H_
#define SLUICE_SERVER_THROTTLE_THROTTLE_STATE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace sluice::throttle {

// Version 1: the single document.
inline constexpr char kThrottleStateKey[] = "throttle/state";
inline constexpr int kThrottleStateVersion = 1;
// Version 2: rows under this prefix.
inline constexpr char kThrottleRowsPrefix[] = "throttle/v2/";
inline constexpr char kThrottleMetaKey[] = "throttle/v2/meta";
inline constexpr char kThrottleMapKey[] = "throttle/v2/map";
inline constexpr char kThrottleBudgetKeyPrefix[] = "throttle/v2/budget/";

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
  std::string family;  // empty in version 1 (the name was the family)
  std::string scope;
  std::string kind;  // BudgetKindName()
  // When this row was written (0 in version 1: the snapshot's time applies).
  double written_at = 0;
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
  // Write-ahead grant allowance (grant_allowance.h): the units the writer
  // may grant from this budget after taking this row and before its next
  // row commits. A restore after a crash charges them as calls answered
  // `allowance_answer_s` after the restore. Absent in rows of writers that
  // did not keep the bound (older versions; error limits before they kept
  // it, where it bounds errors since the row plus reservations open).
  std::optional<int64_t> allowance;
  double allowance_answer_s = 0;
  // Not persisted: which budget object the row was taken from and how many
  // units it had granted then (what a confirmed commit hands back to it).
  uint64_t serial = 0;
  int64_t allowance_mark = 0;
  // Restriction.
  double restricted_until = 0;
  int restriction_level = 0;
  std::string restriction_reason;
  // Who set the end (empty: an agent), whether the external cap shortened
  // it, and the last operator clear (by whom, when; 0 if never).
  std::string restricted_by;
  bool restriction_capped = false;
  std::string restriction_cleared_by;
  double restriction_cleared_at = 0;
  // Headers of callers other than agents: the window's foreign use they
  // showed (kept apart from `phantom`), an error limit's remain they showed
  // and its end, who and until when (empty / 0 if none).
  std::vector<PhantomStepState> external_phantom;
  std::optional<int64_t> external_remain;
  double external_until = 0;
  std::string tightened_by;
  double tightened_until = 0;
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

struct FamilyState {
  std::string name;
  std::string kind;
  int64_t granted = 0;
  int64_t denied = 0;
  int64_t waits = 0;
  int64_t restrictions = 0;
  // The longest restriction the upstream announced for the family through
  // an agent (seconds; 0 if none yet).
  double longest_announced_seconds = 0;
};

// What the throttler learned about routes, and the counters of each family.
struct RouteMapState {
  std::vector<RouteMappingState> esi_routes;  // target "" = ungrouped
  std::vector<EsiGroupState> esi_groups;
  std::vector<RouteMappingState> poe_routes;
  std::vector<PoePolicyState> poe_policies;
  std::vector<FamilyState> families;
};

struct ThrottleSnapshot {
  int version = kThrottleStateVersion;
  double written_at = 0;
  // True only for the final snapshot of an orderly shutdown: every
  // reservation is in it. Otherwise budgets restart in probe mode.
  bool clean_shutdown = false;
  // From the meta row (ThrottleMeta).
  uint64_t incarnation = 0;
  std::optional<std::vector<std::string>> error_limit_holders;
  std::vector<BudgetState> budgets;
  RouteMapState map;
};

// What changed since the previous delta: the rows to write and delete.
struct ThrottleDelta {
  double written_at = 0;
  std::vector<BudgetState> budgets;
  std::vector<std::string> removed;  // budgets dropped as idle
  RouteMapState map;                 // always included: small
  bool more = false;                 // changes left for the next TakeDelta
};

// A written row's allowance, handed back to the throttler once its write is
// confirmed committed (Throttler::CommitAllowances).
struct AllowanceCommit {
  std::string name;
  uint64_t serial = 0;
  int64_t mark = 0;
  int64_t allowance = 0;
};

// Version 1 (one document).
std::string EncodeThrottleState(const ThrottleSnapshot& snapshot);
absl::StatusOr<ThrottleSnapshot> DecodeThrottleState(absl::string_view json);

// Version 2 rows.
std::string EncodeBudgetState(const BudgetState& state);
absl::StatusOr<BudgetState> DecodeBudgetState(absl::string_view json);
std::string EncodeRouteMapState(const RouteMapState& state);
absl::StatusOr<RouteMapState> DecodeRouteMapState(absl::string_view json);
// The meta row: written with every write, so it always describes the last
// committed one.
struct ThrottleMeta {
  double written_at = 0;
  bool clean_shutdown = false;
  // The writer's incarnation: each restore takes the stored one + 1, so a
  // coordinator that takes over is newer than every one whose rows it read
  // (0: written before incarnations were kept).
  uint64_t incarnation = 0;
  // Who may hold calls of this writer that reserve an ESI error limit
  // (Throttler::error_limit_holders: "agent:<id>", "caller:<name>"): it
  // grants such calls to nobody else until a row naming them commits.
  // nullopt: written before the set was kept (a takeover then waits out
  // its whole error-limit charge).
  std::optional<std::vector<std::string>> error_limit_holders;
};
std::string EncodeThrottleMeta(const ThrottleMeta& meta);
absl::StatusOr<ThrottleMeta> DecodeThrottleMeta(absl::string_view json);

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_THROTTLE_STATE_H_
