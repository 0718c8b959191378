// ErrorWindow models ESI's error limit: a number of error responses (4xx/5xx)
// allowed per window; at zero every ESI route answers 420 until the window
// resets. X-ESI-Error-Limit-Remain/-Reset are the authority.
//
// Every ESI call reserves error units before it is made (its outcome is
// unknown; the worst case is that it errors) and the reservation is refunded
// when the response is 2xx/3xx, so the calls in flight can never drive the
// upstream's remain below zero. Local errors decrement `remain` at once; a
// header then corrects toward the more conservative value: within the same
// window remain = min(local, header - errors that may have reached the
// upstream after the reporting call), a header for a newer window replaces the
// local state (the upstream opened a fresh window), and a header whose window
// has ended by the time it is processed (a late report) is ignored.
//
// When the window ends without a confirming header, the remain is assumed to
// be back at the learned limit but the window is `probing`: the Budget lets
// only a probe's worth of calls through until a header confirms, because the
// limit learned so far (the largest Remain seen) may be above the real one.
//
// A takeover's charge (errors the old leader's calls may have made and may
// still make, answered as late as such a call can be) is held apart from
// the errors seen (`charge`): it lowers the remain until the window holding
// its latest answer ends, or until a header of a call sent after that
// answer (which counted every one of them) arrives. When the calls turn out
// to be answered sooner, SettleCharge moves that answer; when every failed
// one is known, ReplaceCharge records them instead.
//
// A header reported by a caller other than an agent (another team's Report)
// does not change this state: its estimate is held apart (`external`), lowers
// the remain only until its capped end (the window's end at the latest), and
// an operator can drop it (ClearExternal).
//
// Ownership: value type owned by its Budget. Thread-safety: none; guarded by
// the Throttler's mutex.
#ifndef SLUICE_SERVER_THROTTLE_ERROR_WINDOW_H_
#define SLUICE_SERVER_THROTTLE_ERROR_WINDOW_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "server/throttle/window.h"

namespace sluice::throttle {

class ErrorWindow {
 public:
  // `default_limit` holds until a header is seen; `window` is the length
  // assumed when a window's end has to be guessed.
  ErrorWindow(int64_t default_limit, Duration window, int64_t margin);

  int64_t limit() const { return limit_; }
  bool learned() const { return learned_; }
  int64_t remain() const { return remain_; }
  int64_t in_flight() const { return in_flight_; }
  int64_t margin() const { return margin_; }
  void set_margin(int64_t margin) { margin_ = margin; }
  Duration window() const { return window_; }
  std::optional<TimePoint> window_end() const { return window_end_; }
  bool probing() const { return probing_; }
  // A response showed the address is not error-limited (a success on a route
  // that sends no error-limit headers): the local count governs from here.
  void set_probing(bool probing) { probing_ = probing; }

  void Reserve(int64_t units) { in_flight_ += units; }
  void Release(int64_t units);
  // A reserved call was answered; `error` if it counts against the limit.
  void Settle(int64_t reserved, bool error, const SpendTiming& timing, TimePoint now);
  // An error nobody reserved for (report without a lease, lapsed lease).
  void RecordError(const SpendTiming& timing, TimePoint now);

  // remain - margin - in_flight at `now` (after a window rollover).
  int64_t Available(TimePoint now);
  // Earliest time `units` are available if nothing else happens; nullopt if
  // in-flight reservations alone prevent it.
  std::optional<TimePoint> NextAvailable(int64_t units, TimePoint now);
  // As if every call in flight came back without an error.
  std::optional<TimePoint> EarliestAvailable(int64_t units, TimePoint now);

  // X-ESI-Error-Limit-Remain/-Reset seen on the response to call X.
  // `x_was_error`: X itself was recorded as an error just before.
  void ApplyHeader(int64_t remain, std::optional<int64_t> reset_seconds, const SpendTiming& x,
                   bool x_was_error, TimePoint now);
  // The same header from a caller other than an agent: lowers the remain
  // until `cap` (or the window's end, if earlier) and changes nothing else.
  // Returns whether it lowered anything.
  bool ApplyExternalHeader(int64_t remain, std::optional<int64_t> reset_seconds,
                           const SpendTiming& x, TimePoint cap, TimePoint now);
  void ClearExternal() { external_remain_.reset(); }
  // The external estimate and its end, while it lowers the remain.
  std::optional<int64_t> external_remain(TimePoint now) const {
    return external_remain_ && now < external_until_ ? external_remain_ : std::nullopt;
  }
  TimePoint external_until() const { return external_until_; }
  void RestoreExternal(std::optional<int64_t> remain, TimePoint until) {
    external_remain_ = remain;
    external_until_ = until;
  }

  // A 420: nothing is left until the window ends. Returns that end.
  TimePoint Exhaust(std::optional<int64_t> reset_seconds, TimePoint now);

  // A takeover's charge: `count` errors sent since `timing.sent_lo`, the
  // latest answered at `timing.resp_hi`.
  struct Charge {
    int64_t count = 0;
    SpendTiming timing;
  };
  void ChargeTakeover(int64_t count, const SpendTiming& timing, TimePoint now);
  // Every call the charge stands for but `keep` of them was answered by
  // `answered_by`; those `keep` count on as errors seen, answered as late as
  // the charge said. Returns whether a charge was left to settle.
  bool SettleCharge(TimePoint answered_by, int64_t keep, TimePoint now);
  // ... and these are all of them that failed: they replace the charge
  // (but for `keep`, as above).
  bool ReplaceCharge(const std::vector<SpendTiming>& errors, int64_t keep, TimePoint now);
  // The charge while it lowers the remain.
  std::optional<Charge> charge(TimePoint now) const {
    return charge_ && now < ChargeEnd() ? charge_ : std::nullopt;
  }

  // Persistence.
  const std::deque<SpendTiming>& recent_errors() const { return recent_; }
  void Restore(int64_t limit, bool learned, int64_t remain, std::optional<TimePoint> window_end,
               bool probing, std::deque<SpendTiming> recent);

 private:
  void Roll(TimePoint now);
  void Trim(TimePoint now);
  // remain_, or the external estimate while it is lower and alive.
  int64_t Remain(TimePoint now) const;
  // Errors that may have reached the upstream after call X.
  int64_t ErrorsAfter(const SpendTiming& x, bool x_was_error) const;
  // When the window holding the charge's latest answer ends at the latest.
  TimePoint ChargeEnd() const;
  // The charge's errors left at `t` (0 once its windows have ended).
  int64_t ChargeAt(TimePoint t) const;
  // remain_ less the charge at `now`, without the external estimate.
  int64_t OwnRemain(TimePoint now) const;
  // The earliest time `units` fit with `held` units in flight.
  std::optional<TimePoint> NextTime(int64_t units, int64_t held, TimePoint now);

  int64_t limit_;
  bool learned_ = false;
  Duration window_;
  int64_t margin_;
  int64_t remain_;
  std::optional<TimePoint> window_end_;
  bool probing_ = true;  // no header seen yet
  int64_t in_flight_ = 0;
  // Errors of the last two windows, to tell which may postdate a header.
  std::deque<SpendTiming> recent_;
  std::optional<int64_t> external_remain_;
  TimePoint external_until_{};
  std::optional<Charge> charge_;
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_ERROR_WINDOW_H_
