// GrantAllowance is a budget's write-ahead bound on grants: how many more
// units the throttler may grant from the budget before its next row is
// committed to the store. It is what makes a takeover safe: the coordinator
// that restores the budget after a crash (or after its leader was deposed)
// knows from the committed row that the old leader granted at most the row's
// `allowance` units after taking that row, and charges them as spent.
//
// Every persisted row of a window budget carries an allowance A, taken at a
// moment when the budget had granted G units in all (`mark`). From then on:
//   * while the row's write is under way (or failed: a write that failed may
//     still have committed), grants keep within every such row taken since
//     the last confirmed commit and within that commit: G_now <= mark + A
//     for each (only the least bound is kept: `ceiling`);
//   * once the row is confirmed committed, it alone bounds the grants:
//     G_now <= mark + A (the older rows cannot be read any more).
// So whatever row a restore reads, the units granted after it was taken are at
// most its allowance. A write that keeps failing (database away, or this
// coordinator fenced off as a deposed leader) therefore stops grants once the
// allowance is used: what a partitioned leader must do.
//
// A budget made new has no row: it may grant `probe` units (one probe call's
// worst cost) before its first row commits; a takeover that does not find the
// row probes the budget again, so at most two probe calls can meet in the
// window (README, "Persistence"). A restored budget starts with nothing to
// grant until its own first row commits: the row it was restored from does
// not count what this coordinator grants.
//
// An address's error limit (ESI's X-ESI-Error-Limit) is kept differently
// (`covers_open`): every ESI call of the address reserves one error and gives
// it back when it succeeds, so units granted since a row would cap the calls
// a busy address makes per write interval. There the row bounds what a
// restore cannot know in all: the errors since the row plus the reservations
// open now, those granted before the row included (they may still error).
// Its mark is taken without the reservations open then (`Taken`'s `open`),
// every refund counts whenever its call was granted, and the allowance is
// never below the reservations open at the row. A restore charges the row's
// allowance as errors instead of its open reservations.
//
// The units counted are reservations at grant time (worst cost). A call
// granted after the budget's latest row was taken gives back what it turns
// out not to need (settled cheaper, returned unspent, released unarmed): its
// units are only in the allowance, never in a row, so the allowance charged
// at a takeover still covers what it spent. One granted before the latest
// row gives nothing back: that row holds it as an open reservation, restored
// as answered by the latest time a lease open then could be, which a call
// granted in its place could outlast. `wanted` counts units asked for
// (granted or not) since the last row, the demand the next allowance is
// sized from.
//
// Ownership: a value type owned by its Budget. Thread-safety: none; guarded
// by the Throttler's mutex.
#ifndef SLUICE_SERVER_THROTTLE_GRANT_ALLOWANCE_H_
#define SLUICE_SERVER_THROTTLE_GRANT_ALLOWANCE_H_

#include <algorithm>
#include <cstdint>

#include "common/clock.h"

namespace sluice::throttle {

class GrantAllowance {
 public:
  // Units granted from the budget so far (monotone).
  int64_t granted() const { return granted_; }
  // Units still grantable before a row commits (may be negative after a
  // charge the throttler could not refuse, e.g. recharged leases).
  int64_t left() const { return ceiling_ - granted_; }

  // A made budget (no row yet) may grant `units`; a restored one 0.
  void Start(int64_t units) { ceiling_ = granted_ + std::max<int64_t>(0, units); }
  void Grant(int64_t units) { granted_ += units; }
  // A call of the grant numbered `grant_seq` needs `units` less than it
  // reserved (negative: more).
  void Refund(uint64_t grant_seq, int64_t units) {
    if (covers_open_ || grant_seq > taken_seq_) granted_ -= units;
  }
  // An error limit's allowance: bounds errors since the row plus the
  // reservations open (see above). Set once, when the budget is made.
  void set_covers_open(bool covers_open) { covers_open_ = covers_open; }
  bool covers_open() const { return covers_open_; }
  // Under `covers_open`, the most (units granted since the last row's mark
  // + units asked) seen since the last row: the demand its next allowance
  // is sized from.
  int64_t peak() const { return peak_; }
  void Want(int64_t units) {
    wanted_ += units;
    peak_ = std::max(peak_, granted_ - mark_ + units);
  }

  // A row with `allowance` was taken now, after the grant numbered
  // `grant_seq`, with `open` units reserved and not settled (counted only
  // under `covers_open`): returns its mark (units granted so far, less those
  // open) and bounds grants by it from now on, with the earlier bounds.
  int64_t Taken(int64_t allowance, uint64_t grant_seq, int64_t open = 0) {
    const int64_t mark = covers_open_ ? granted_ - std::max<int64_t>(0, open) : granted_;
    ceiling_ = std::min(ceiling_, mark + std::max<int64_t>(0, allowance));
    wanted_ = 0;
    peak_ = granted_ - mark;
    mark_ = mark;
    taken_seq_ = grant_seq;
    return mark;
  }
  // The row taken at `mark` with `allowance` is committed: from now on it
  // alone bounds the grants.
  void Committed(int64_t mark, int64_t allowance) {
    ceiling_ = mark + std::max<int64_t>(0, allowance);
  }

  // Units asked for since the last row, and when that row was taken.
  int64_t wanted() const { return wanted_; }
  TimePoint last_taken() const { return last_taken_; }
  void set_last_taken(TimePoint t) { last_taken_ = t; }

 private:
  int64_t granted_ = 0;
  int64_t ceiling_ = 0;
  int64_t wanted_ = 0;
  int64_t mark_ = 0;
  int64_t peak_ = 0;
  bool covers_open_ = false;
  uint64_t taken_seq_ = 0;
  TimePoint last_taken_{};
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_GRANT_ALLOWANCE_H_
