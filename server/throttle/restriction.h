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
  // A successful response: the next restriction starts from the base backoff.
  void OnSuccess() { level_ = 0; }

  bool Active(TimePoint now) const { return now < until_; }
  TimePoint until() const { return until_; }
  int level() const { return level_; }
  const std::string& reason() const { return reason_; }

  void Restore(TimePoint until, int level, std::string reason) {
    until_ = until;
    level_ = level;
    reason_ = std::move(reason);
  }

  // The backoff for `level` before jitter: base * 2^level, capped at max.
  static Duration NominalBackoff(int level, const BackoffOptions& options);

 private:
  TimePoint until_{};
  int level_ = 0;
  std::string reason_;
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_RESTRICTION_H_
