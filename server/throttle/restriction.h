// Restriction is a budget's "do not call before" state: set by a 429, a 420
// or an active restriction in a PoE -State header, it blocks every grant on
// the budget until the latest of the upstream's own restriction / Retry-After
// and a jittered exponential backoff.
//
// The backoff grows per restriction episode (a restriction imposed while one
// is already active extends it without escalating, because a burst of 429s
// from calls already in flight is one incident, not several) and resets after
// a successful response on the budget. Jitter only lengthens the wait.
//
// A restriction learned from a caller other than an agent (an unleased
// Report from another team) is imposed capped (ImposeCapped): it ends by the
// cap whatever it announced, never escalates the backoff, never shortens a
// restriction in force, and names its caller (`by`). An operator may lift
// any restriction and its escalated backoff (Clear), which is recorded.
//
// The same caller's headers may tighten the budget without restricting it
// (X-Ratelimit-Remaining: 0, a low X-ESI-Error-Limit-Remain): the budget's
// window holds that tightening apart, capped like a restriction, and this
// names who did it and until when (`tightened_by`); Clear forgets it with
// the restriction (the throttler drops the tightening itself).
//
// Ownership: value type owned by its Budget. Thread-safety: none; guarded by
// the Throttler's mutex.
#ifndef SLUICE_SERVER_THROTTLE_RESTRICTION_H_
#define SLUICE_SERVER_THROTTLE_RESTRICTION_H_

#include <cstdint>
#include <random>
#include <string>

#include "common/clock.h"

namespace sluice::throttle {

struct BackoffOptions {
  Duration base = std::chrono::seconds(2);
  Duration max = std::chrono::minutes(15);
  // The backoff is multiplied by 1 + jitter * U[0, 1).
  double jitter = 0.25;
};

class Restriction {
 public:
  // Blocks until at least max(floor, now + backoff). Returns the new end.
  // `*new_episode` tells whether this started a restriction (vs extended one).
  TimePoint Impose(TimePoint now, TimePoint floor, std::string reason,
                   const BackoffOptions& options, std::mt19937_64& rng, bool* new_episode);
  // As Impose, for a restriction reported by `by` (not an agent): ends by
  // `cap` at the latest (never before an end already in force), and does not
  // escalate the backoff.
  TimePoint ImposeCapped(TimePoint now, TimePoint floor, TimePoint cap, std::string reason,
                         std::string by, const BackoffOptions& options, std::mt19937_64& rng,
                         bool* new_episode);
  // Lifts the restriction and its escalated backoff; records who and when.
  // Returns whether there was anything to lift.
  bool Clear(TimePoint now, std::string by);
  // A successful response: the next restriction starts from the base backoff.
  void OnSuccess() { level_ = 0; }

  bool Active(TimePoint now) const { return now < until_; }
  TimePoint until() const { return until_; }
  int level() const { return level_; }
  const std::string& reason() const { return reason_; }
  // Who set the current end: empty for the upstream through an agent,
  // otherwise the external caller; and whether its cap shortened it.
  const std::string& by() const { return by_; }
  bool capped() const { return capped_; }
  // Who last tightened the budget with headers (not an agent; empty if none
  // since the last Clear), and the latest end of such a tightening.
  const std::string& tightened_by() const { return tightened_by_; }
  TimePoint tightened_until() const { return tightened_until_; }
  void NoteTightened(std::string by, TimePoint until) {
    tightened_by_ = std::move(by);
    if (until > tightened_until_) tightened_until_ = until;
  }
  void RestoreTightened(std::string by, TimePoint until) {
    tightened_by_ = std::move(by);
    tightened_until_ = until;
  }
  // The last Clear: by whom (empty if never) and when.
  const std::string& cleared_by() const { return cleared_by_; }
  TimePoint cleared_at() const { return cleared_at_; }

  void Restore(TimePoint until, int level, std::string reason) {
    until_ = until;
    level_ = level;
    reason_ = std::move(reason);
  }
  void RestoreSource(std::string by, bool capped, std::string cleared_by, TimePoint cleared_at) {
    by_ = std::move(by);
    capped_ = capped;
    cleared_by_ = std::move(cleared_by);
    cleared_at_ = cleared_at;
  }

  // The backoff for `level` before jitter: base * 2^level, capped at max.
  static Duration NominalBackoff(int level, const BackoffOptions& options);

 private:
  TimePoint until_{};
  int level_ = 0;
  std::string reason_;
  std::string by_;
  bool capped_ = false;
  std::string cleared_by_;
  TimePoint cleared_at_{};
  std::string tightened_by_;
  TimePoint tightened_until_{};
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_RESTRICTION_H_
