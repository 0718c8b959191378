#include "agent/core/lease_sizer.h"

#include <algorithm>
#include <cmath>

namespace sluice::agent {
namespace {

// Rates are measured over at least this long: a lease answered in a
// millisecond says nothing about the pace of work.
constexpr std::chrono::milliseconds kMinSample{100};
// Weight of the newest sample: the size follows a change of pace within a
// few leases but not one odd interval.
constexpr double kNewWeight = 0.5;

}  // namespace

LeaseSizer::LeaseSizer(int fixed, int floor, int ceiling, Clock::duration horizon)
    : fixed_(fixed),
      floor_(std::max(1, std::min(floor, ceiling))),
      ceiling_(std::max(1, ceiling)),
      horizon_s_(std::chrono::duration<double>(horizon).count()) {}

int LeaseSizer::Next(int64_t finished, Clock::time_point now) {
  if (fixed_ > 0) return std::min(fixed_, ceiling_);
  if (!started_) {
    started_ = true;
    sampled_at_ = now;
    sampled_finished_ = finished;
    return floor_;
  }
  const auto elapsed = now - sampled_at_;
  if (elapsed >= kMinSample) {
    const double sample = static_cast<double>(finished - sampled_finished_) /
                          std::chrono::duration<double>(elapsed).count();
    rate_ = rate_ == 0 ? sample : kNewWeight * sample + (1 - kNewWeight) * rate_;
    sampled_at_ = now;
    sampled_finished_ = finished;
  }
  const double want = std::ceil(rate_ * horizon_s_);
  return static_cast<int>(std::clamp<double>(want, floor_, ceiling_));
}

}  // namespace sluice::agent
