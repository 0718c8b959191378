// Budget is one upstream allowance that calls draw from, as the upstream
// bills it: an ESI rate-limit group for one caller, a route's default before
// its group is known, an ESI error limit of one source address, one PoE rule
// tier for one scope (route_map.h names them). It combines the allowance's
// window model (FloatingWindow, or ErrorWindow for the error limit), its
// Restriction and its counters, and turns units into calls:
//
//   A call reserves `reserve` units while in flight (the worst case the call
//   can cost) and is admitted by the upstream only if `admission` units are
//   left when it arrives (ESI admits a call if a 2xx's cost is left, then may
//   charge a 4xx's higher cost). So n calls fit if
//       available >= admission + (n - 1) * reserve,
//   i.e. every call but the last may turn out at its worst.
//
// A budget that has not yet been observed (no upstream response since it was
// created, or a restore after a crash) is in probe mode: at most
// `probe_limit` calls in flight, so the first response teaches the real state
// before anything else goes out.
//
// Budgets of one family (the same allowance for different callers) share a
// BudgetFamily: the learned size, the counters that outlive idle budgets and
// the routes seen, for listings.
//
// Ownership: owned by the Throttler (stable address until the Throttler drops
// it, which it does only when no lease uses it). Thread-safety: none; guarded
// by the Throttler's mutex.
#ifndef SLUICE_SERVER_THROTTLE_BUDGET_H_
#define SLUICE_SERVER_THROTTLE_BUDGET_H_

#include <cstdint>
#include <list>
#include <optional>
#include <set>
#include <string>
#include <unordered_set>

#include "absl/strings/string_view.h"
#include "common/clock.h"
#include "server/throttle/error_window.h"
#include "server/throttle/grant_allowance.h"
#include "server/throttle/restriction.h"
#include "server/throttle/window.h"

namespace sluice::throttle {

enum class BudgetKind {
  kEsiGroup,      // esi/group/<group>/<scope>
  kEsiRoute,      // esi/route/<route>: an unknown route's probe budget
  kEsiErrors,     // esi/errors/<ip scope>
  kPoeTier,       // poe/<policy>/<rule>/<tier>/<scope>
  kPoeRoute,      // poe/route/<route>: default before the policy is known
  kEsiUngrouped,  // esi/ungrouped/<route>/<scope>: optional cap, 429 carrier
};

absl::string_view BudgetKindName(BudgetKind kind);
std::optional<BudgetKind> ParseBudgetKind(absl::string_view name);

struct CallCost {
  int64_t reserve = 1;
  int64_t admission = 1;
};

// A time to call, or (firm == false) only a time to ask again: only the
// settlement of in-flight calls or a first observation can free room.
struct CallTime {
  TimePoint at;
  bool firm = true;
};

struct BudgetCounters {
  int64_t granted = 0;       // calls granted (leases and acquires)
  int64_t denied = 0;        // requests refused with this budget limiting
  int64_t waits = 0;         // acquires granted for a later time, this budget limiting
  int64_t restrictions = 0;  // restriction episodes
  // Since this coordinator started (not persisted): calls reported, calls
  // released at their lease's expiry as never armed, and calls charged at
  // their worst because their lease lapsed unreported.
  int64_t reported = 0;
  int64_t unarmed = 0;
  int64_t lapsed = 0;
};

// What the budgets of one family share.
struct BudgetFamily {
  std::string name;
  BudgetKind kind = BudgetKind::kEsiRoute;
  BudgetCounters counters;       // over every budget the family ever had
  std::set<std::string> routes;  // route labels (without caller/egress), bounded
  int64_t live = 0;              // budgets alive now
  // The longest restriction the upstream announced for the family through
  // an agent (Retry-After, a 420's reset, a PoE restriction): what bounds a
  // restriction other callers report.
  Duration longest_announced{};

  void AddRoute(const std::string& label);
};

class Budget {
 public:
  // A floating-window budget.
  Budget(std::string name, BudgetFamily* family, std::string scope, BudgetKind kind, int64_t limit,
         Duration period, int64_t margin, Duration penalty, bool learned);
  // An error-limit budget.
  Budget(std::string name, BudgetFamily* family, std::string scope, int64_t default_limit,
         Duration window, int64_t margin);

  const std::string& name() const { return name_; }
  BudgetFamily* family() const { return family_; }
  const std::string& scope() const { return scope_; }
  BudgetKind kind() const { return kind_; }
  bool is_error_limit() const { return kind_ == BudgetKind::kEsiErrors; }

  // Limits come from upstream headers (not a configured default).
  bool learned() const;
  void set_learned(bool learned) { learned_ = learned; }
  // False while probing (see class comment).
  bool observed() const;
  void set_observed(bool observed);

  // Exactly one of these is non-null.
  FloatingWindow* window() { return window_ ? &*window_ : nullptr; }
  const FloatingWindow* window() const { return window_ ? &*window_ : nullptr; }
  ErrorWindow* errors() { return errors_ ? &*errors_ : nullptr; }
  const ErrorWindow* errors() const { return errors_ ? &*errors_ : nullptr; }

  Restriction& restriction() { return restriction_; }
  const Restriction& restriction() const { return restriction_; }
  BudgetCounters& counters() { return counters_; }
  const BudgetCounters& counters() const { return counters_; }

  // PoE's penalty for breaking the tier (listing only).
  Duration penalty() const { return penalty_; }
  void set_penalty(Duration penalty) { penalty_ = penalty; }

  int64_t limit() const;
  Duration period() const;
  int64_t margin() const;
  int64_t in_flight_units() const;
  int64_t in_flight_calls() const { return in_flight_calls_; }

  void Reserve(int64_t calls, int64_t units);
  // Reserved calls that were never spent.
  void Release(int64_t calls, int64_t units);
  // Reserved calls that were answered (or must be assumed spent): drops the
  // reservation and charges `actual_units` (for the error limit: errors).
  void Settle(int64_t calls, int64_t reserved_units, int64_t actual_units,
              const SpendTiming& timing, TimePoint now);
  // Spent calls that held no reservation.
  void Charge(int64_t actual_units, const SpendTiming& timing, TimePoint now);
  // Units available now, ignoring restrictions (may be negative).
  int64_t AvailableUnits(TimePoint now);

  // Calls grantable now, at most `want`: 0 while restricted.
  int64_t CallsAvailable(int64_t want, const CallCost& cost, int64_t probe_limit, TimePoint now);
  // Earliest time `calls` calls could be granted if nothing else happens.
  // When only settlement of in-flight calls can free room (or probing holds),
  // the answer is now + retry_hint and not firm.
  CallTime NextCallsTime(int64_t calls, const CallCost& cost, int64_t probe_limit,
                         Duration retry_hint, TimePoint now);
  // The earliest time `calls` calls could possibly be granted: as if every
  // call in flight came back unspent. Asking again before it is pointless.
  TimePoint EarliestCallsTime(int64_t calls, const CallCost& cost, TimePoint now);

  // Nothing in flight, no open lease, nothing spent still counting, no
  // restriction (nor escalated backoff) to remember: dropping the budget and
  // making it again later changes nothing but its probe on first use.
  bool Idle(TimePoint now);

  // Open leases holding reservations here (for revocation without a scan).
  std::unordered_set<int64_t>& leases() { return leases_; }
  // The latest time a response to any lease granted here can arrive: what a
  // snapshot charges for reservations still open.
  TimePoint latest_answer() const { return latest_answer_; }
  void NoteLeaseAnswerBy(TimePoint t) {
    if (t > latest_answer_) latest_answer_ = t;
  }

  // The write-ahead bound on grants (grant_allowance.h); kept by the
  // Throttler for window budgets while its state is persisted.
  GrantAllowance& allowance() { return allowance_; }
  const GrantAllowance& allowance() const { return allowance_; }

  // Throttler bookkeeping: the position in its least-recently-touched list,
  // whether the persisted copy is stale / exists, and which budget object
  // this is (a name dropped and made again is another budget: a commit of
  // the old one's row must not count for the new one).
  std::list<Budget*>::iterator lru_position;
  TimePoint last_touch;
  bool dirty = false;
  bool persisted = false;
  uint64_t serial = 0;

 private:
  std::string name_;
  BudgetFamily* family_;
  std::string scope_;
  BudgetKind kind_;
  bool learned_ = false;
  bool observed_ = false;
  std::optional<FloatingWindow> window_;
  std::optional<ErrorWindow> errors_;
  Restriction restriction_;
  BudgetCounters counters_;
  Duration penalty_{};
  int64_t in_flight_calls_ = 0;
  std::unordered_set<int64_t> leases_;
  TimePoint latest_answer_{};
  GrantAllowance allowance_;
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_BUDGET_H_
