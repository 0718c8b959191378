#include "server/throttle/restriction.h"

#include <algorithm>

namespace sluice::throttle {

Duration Restriction::NominalBackoff(int level, const BackoffOptions& options) {
  Duration d = options.base;
  for (int i = 0; i < level && d < options.max; ++i) d *= 2;
  return std::min(d, options.max);
}

TimePoint Restriction::Impose(TimePoint now, TimePoint floor, std::string reason,
                              const BackoffOptions& options, std::mt19937_64& rng,
                              bool* new_episode) {
  const bool active = Active(now);
  // Escalate once per episode; a restriction extended while active reuses the
  // current level so concurrent 429s do not compound.
  const int level = active ? std::max(0, level_ - 1) : level_;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double factor = 1.0 + std::max(0.0, options.jitter) * unit(rng);
  const Duration backoff = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(NominalBackoff(level, options)) * factor);
  const TimePoint wanted = std::max(floor, now + backoff);
  if (!active) ++level_;
  if (wanted >= until_) {
    // The upstream (through an agent) sets the end from here on.
    by_.clear();
    capped_ = false;
  }
  until_ = std::max(until_, wanted);
  reason_ = std::move(reason);
  if (new_episode != nullptr) *new_episode = !active;
  return until_;
}

TimePoint Restriction::ImposeCapped(TimePoint now, TimePoint floor, TimePoint cap,
                                    std::string reason, std::string by,
                                    const BackoffOptions& options, std::mt19937_64& rng,
                                    bool* new_episode) {
  const bool active = Active(now);
  // The current level's backoff without escalating: a caller that is not an
  // agent cannot make the upstream's own next restriction longer.
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double factor = 1.0 + std::max(0.0, options.jitter) * unit(rng);
  const Duration backoff = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(
          NominalBackoff(active ? std::max(0, level_ - 1) : level_, options)) *
      factor);
  const TimePoint wanted = std::max(floor, now + backoff);
  const TimePoint end = std::min(wanted, cap);
  if (end > until_) {
    until_ = end;
    reason_ = std::move(reason);
    by_ = std::move(by);
    capped_ = wanted > cap;
  }
  if (new_episode != nullptr) *new_episode = !active && Active(now);
  return until_;
}

bool Restriction::Clear(TimePoint now, std::string by) {
  const bool lifted = Active(now) || level_ > 0 || tightened_until_ > now;
  if (Active(now)) until_ = now;
  level_ = 0;
  by_.clear();
  capped_ = false;
  tightened_by_.clear();
  tightened_until_ = TimePoint{};
  cleared_by_ = std::move(by);
  cleared_at_ = now;
  return lifted;
}

}  // namespace sluice::throttle
