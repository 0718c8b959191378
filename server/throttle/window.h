// FloatingWindow is the local model of one upstream floating window: "at most
// `limit` units received in any `period`, each spent unit comes back one
// period after the upstream received it". ESI's rate-limit groups (units =
// tokens, 150/15m) and each PoE rule tier (units = hits, 45:60) are both this.
//
// The model is an upper bound on what the upstream counts, never lower:
//
//  * in_flight: units reserved for calls that are granted but whose response
//    has not been reported. They count as used at every future instant until
//    they are settled (or released when returned unspent).
//  * ledger: units of answered calls. A call's unit comes back at
//    resp_hi + period, where resp_hi is an upper bound of the time the
//    response arrived (the upstream received the call earlier, so its unit
//    comes back earlier than ours). Calls are coalesced into buckets whose
//    first and last resp_hi are at most `granularity` apart, so memory is
//    bounded by min(limit, period / granularity) buckets.
//  * phantom: units the upstream counts that the ledger cannot explain (other
//    consumers, a restart, wrong costs). Learned from X-Ratelimit-Remaining /
//    -Used or a PoE -State header (ApplyUpstreamUsed) and kept as a
//    non-increasing staircase of (amount, until) steps: the max of all
//    corrections still alive, so repeated headers never add up.
//  * external phantom: the same, learned from a report of a caller other
//    than an agent (another team's Report). Kept apart, so that an operator
//    can drop it (ClearExternal) without dropping what agents' answers
//    showed; the throttler ends each of its steps within the external cap.
//    Counted as the max of both staircases (they estimate the same foreign
//    use).
//
// Headers can only tighten the model; nothing here ever frees units early.
// Availability at time t = limit - margin - in_flight - ledger(t) - phantom(t).
//
// All times are explicit arguments (no clock), so the math is testable.
// Ownership: a value type owned by its Budget. Thread-safety: none; the
// Throttler's mutex guards every instance.
#ifndef SLUICE_SERVER_THROTTLE_WINDOW_H_
#define SLUICE_SERVER_THROTTLE_WINDOW_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "common/clock.h"

namespace sluice::throttle {

// When a call could have reached the upstream, in coordinator time:
// the upstream received it in [sent_lo, resp_hi].
struct SpendTiming {
  TimePoint sent_lo;
  TimePoint resp_hi;
};

class FloatingWindow {
 public:
  // How long a returned bucket stays readable for ApplyUpstreamUsed: the
  // longest a call's report can trail its sending (the throttler lapses a
  // lease 35 s after expiry: 30 s request limit + 5 s grace).
  static constexpr Duration kReportGrace = std::chrono::seconds(35);

  struct Bucket {
    TimePoint first_resp;  // earliest resp_hi in the bucket (merge bound)
    TimePoint resp_hi;     // latest resp_hi: the whole bucket returns at resp_hi + period
    TimePoint sent_lo;     // earliest sent_lo in the bucket
    int64_t units = 0;
  };
  struct Step {
    TimePoint until;
    int64_t amount = 0;
  };

  FloatingWindow(int64_t limit, Duration period, int64_t margin);

  // Learned limits changed. Ledger entries keep their resp_hi and return one
  // (new) period after it.
  void SetLimits(int64_t limit, Duration period, int64_t margin);

  int64_t limit() const { return limit_; }
  Duration period() const { return period_; }
  int64_t margin() const { return margin_; }
  int64_t in_flight() const { return in_flight_; }

  void Reserve(int64_t units) { in_flight_ += units; }
  // Reserved units that were never spent.
  void Release(int64_t units);
  // A reserved call was answered: drops `reserved` from in_flight and charges
  // `actual` (which may be larger or smaller) to the ledger.
  void Settle(int64_t reserved, int64_t actual, const SpendTiming& timing);
  // Charges units that were never reserved (reports without a lease, lapsed
  // leases, a restart's in-flight).
  void Charge(int64_t units, const SpendTiming& timing);

  // Units usable now (may be negative). Drops what has come back by `now`.
  int64_t Available(TimePoint now);
  // Units counted against the window at `now`: in_flight + ledger + phantom.
  int64_t Used(TimePoint now);
  // Earliest t >= now with Available(t) >= units, assuming nothing else is
  // granted or settled meanwhile; nullopt if in-flight reservations alone
  // prevent it (only settlement can free them).
  std::optional<TimePoint> NextAvailable(int64_t units, TimePoint now);
  // The same as if every call in flight came back unspent: the earliest
  // time `units` could possibly be available (nullopt: never, the limit is
  // too small). A refusal's "ask again" time: never later than the truth.
  std::optional<TimePoint> EarliestAvailable(int64_t units, TimePoint now);
  // limit - margin - what the ledger and the phantom still count at `t`
  // (>= now): the room by then, before in-flight reservations and grants.
  int64_t RoomAt(TimePoint t) const;

  // The upstream counted `upstream_used` units (including call X itself) when
  // it received call X, which was answered within `x`. Everything the ledger
  // holds that the upstream could possibly have counted then (plus in-flight
  // reservations, which may have reached it, and units that came back in our
  // model after X was sent: a report arrives a little after its answer, and
  // a burst's units may return in between) is subtracted; a positive rest
  // is foreign usage and becomes a phantom until x.resp_hi + period (those
  // units were counted at or before then, so they are back by that time).
  // Returns the units added (0 if the ledger explains the count).
  int64_t ApplyUpstreamUsed(int64_t upstream_used, const SpendTiming& x, TimePoint now);
  // The same from a report of a caller other than an agent: the foreign use
  // goes to the external staircase and lasts until `cap` at the latest.
  // Returns the units added.
  int64_t ApplyExternalUsed(int64_t upstream_used, const SpendTiming& x, TimePoint cap,
                            TimePoint now);
  // Drops the external staircase.
  void ClearExternal() { external_.clear(); }

  // State export/import for persistence (see throttle_state.h).
  std::vector<Bucket> ledger() const;
  const std::vector<Step>& phantom() const { return phantom_; }
  const std::vector<Step>& external_phantom() const { return external_; }
  void RestoreLedger(std::vector<Bucket> buckets, std::vector<Step> phantom,
                     std::vector<Step> external = {});

  // How far apart calls may be and still share a bucket.
  Duration granularity() const { return granularity_; }

 private:
  void Expire(TimePoint now);
  // Foreign units the upstream counted beyond the model, as of X.
  int64_t ForeignUsed(int64_t upstream_used, const SpendTiming& x) const;
  static void AddStep(std::vector<Step>* steps, int64_t amount, TimePoint until);
  int64_t PhantomAt(TimePoint now) const;

  int64_t limit_;
  Duration period_;
  int64_t margin_;
  Duration granularity_;
  int64_t in_flight_ = 0;
  // Sorted by resp_hi; [0, head_) came back (kept for kReportGrace), live
  // from ledger_[head_] on; a vector with a moving head
  // instead of a deque, because a deque costs ~600 bytes even when empty and
  // the throttler keeps one window per (group, character).
  std::vector<Bucket> ledger_;
  size_t head_ = 0;
  int64_t ledger_units_ = 0;  // sum over the live part of ledger_
  // Sorted by `until` ascending with strictly decreasing amounts.
  std::vector<Step> phantom_;
  // The same shape, from callers other than agents.
  std::vector<Step> external_;
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_WINDOW_H_
