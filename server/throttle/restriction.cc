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
  const TimePoint end = std::max({until_, floor, now + backoff});
  if (!active) ++level_;
  until_ = end;
  reason_ = std::move(reason);
  if (new_episode != nullptr) *new_episode = !active;
  return end;
}

}  // namespace sluice::throttle
