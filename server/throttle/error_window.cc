#include "server/throttle/error_window.h"

#include <algorithm>

namespace sluice::throttle {
namespace {

// Two headers whose computed window ends differ by less than this describe the
// same window (reset is whole seconds, reports arrive with some delay).
constexpr Duration kSameWindow = std::chrono::seconds(3);
// Reset is rounded to whole seconds by the upstream: the end may be up to a
// second later than now + reset.
constexpr Duration kResetRounding = std::chrono::seconds(1);

}  // namespace

ErrorWindow::ErrorWindow(int64_t default_limit, Duration window, int64_t margin)
    : limit_(default_limit), window_(window), margin_(margin), remain_(default_limit) {}

void ErrorWindow::Release(int64_t units) { in_flight_ = std::max<int64_t>(0, in_flight_ - units); }

void ErrorWindow::Settle(int64_t reserved, bool error, const SpendTiming& timing, TimePoint now) {
  Release(reserved);
  if (error) RecordError(timing, now);
}

void ErrorWindow::RecordError(const SpendTiming& timing, TimePoint now) {
  Roll(now);
  if (!window_end_) {
    // The upstream's window holding this error ends at most one window after
    // the error reached it; assume the latest such end until a header says.
    window_end_ = timing.resp_hi + window_ + kResetRounding;
  }
  remain_ = std::max<int64_t>(0, remain_ - 1);
  recent_.push_back(timing);
  Trim(now);
}

void ErrorWindow::Trim(TimePoint now) {
  while (!recent_.empty() && recent_.front().resp_hi + 2 * window_ < now) recent_.pop_front();
}

void ErrorWindow::Roll(TimePoint now) {
  if (!window_end_ || now < *window_end_) return;
  if (remain_ < limit_) {
    // Errors close to the boundary may belong to the new window.
    int64_t carried = 0;
    for (const SpendTiming& e : recent_) {
      if (e.resp_hi + kSameWindow >= *window_end_) ++carried;
    }
    remain_ = std::max<int64_t>(0, limit_ - carried);
    probing_ = true;
  }
  window_end_.reset();
}

int64_t ErrorWindow::Remain(TimePoint now) const {
  std::optional<int64_t> external = external_remain(now);
  return external ? std::min(remain_, *external) : remain_;
}

int64_t ErrorWindow::Available(TimePoint now) {
  Roll(now);
  return Remain(now) - margin_ - in_flight_;
}

std::optional<TimePoint> ErrorWindow::NextAvailable(int64_t units, TimePoint now) {
  Roll(now);
  if (Remain(now) - margin_ - in_flight_ >= units) return now;
  if (external_remain(now) && remain_ - margin_ - in_flight_ >= units &&
      (!window_end_ || external_until_ < *window_end_)) {
    return external_until_;  // only the external estimate stands in the way
  }
  if (window_end_ && limit_ - margin_ - in_flight_ >= units) return *window_end_;
  return std::nullopt;
}

std::optional<TimePoint> ErrorWindow::EarliestAvailable(int64_t units, TimePoint now) {
  Roll(now);
  if (Remain(now) - margin_ >= units) return now;
  if (external_remain(now) && remain_ - margin_ >= units &&
      (!window_end_ || external_until_ < *window_end_)) {
    return external_until_;
  }
  if (window_end_ && limit_ - margin_ >= units) return *window_end_;
  return std::nullopt;
}

int64_t ErrorWindow::ErrorsAfter(const SpendTiming& x, bool x_was_error) const {
  int64_t later = 0;
  for (const SpendTiming& e : recent_) {
    if (e.resp_hi >= x.sent_lo) ++later;
  }
  if (x_was_error && later > 0) --later;
  return later;
}

bool ErrorWindow::ApplyExternalHeader(int64_t remain, std::optional<int64_t> reset_seconds,
                                      const SpendTiming& x, TimePoint cap, TimePoint now) {
  Roll(now);
  Trim(now);
  TimePoint until = cap;
  if (reset_seconds) {
    const TimePoint end = x.resp_hi + std::chrono::seconds(*reset_seconds) + kResetRounding;
    until = std::min(until, end);
  } else if (window_end_) {
    until = std::min(until, *window_end_);
  }
  if (until <= now) return false;
  const int64_t estimate = std::max<int64_t>(0, remain - ErrorsAfter(x, false));
  if (estimate >= Remain(now)) return false;
  std::optional<int64_t> held = external_remain(now);
  external_remain_ = held ? std::min(*held, estimate) : estimate;
  external_until_ = held ? std::max(external_until_, until) : until;
  return true;
}

void ErrorWindow::ApplyHeader(int64_t remain, std::optional<int64_t> reset_seconds,
                              const SpendTiming& x, bool x_was_error, TimePoint now) {
  Roll(now);
  Trim(now);
  if (!learned_) {
    // The first Remain seen is a lower bound of the limit, except 0 (the
    // answer with a 420, often the first error-limit header a client sees
    // when its routes are in rate-limit groups): that says nothing of the
    // limit, and learning 0 would block the address for good.
    if (remain > 0) {
      limit_ = remain;
      learned_ = true;
    }
  } else {
    limit_ = std::max(limit_, remain);
  }
  // Errors that may have reached the upstream after X (so are not in `remain`).
  const int64_t later = ErrorsAfter(x, x_was_error);
  const int64_t estimate = std::max<int64_t>(0, remain - later);
  probing_ = false;
  if (!reset_seconds) {
    remain_ = std::min(remain_, estimate);
    return;
  }
  // The header was produced before X's answer arrived: its window ends by
  // resp_hi + reset (+ rounding), also for a report that arrives late.
  const TimePoint end = x.resp_hi + std::chrono::seconds(*reset_seconds) + kResetRounding;
  if (end <= now) return;  // that window is over: the header says nothing about now
  if (!window_end_ || end > *window_end_ + kSameWindow) {
    // A newer window than the one we track: the header is the authority.
    remain_ = estimate;
    window_end_ = end;
  } else {
    // The same window (or ours is assumed to end later: keep the later end).
    remain_ = std::min(remain_, estimate);
    window_end_ = std::max(*window_end_, end);
  }
}

TimePoint ErrorWindow::Exhaust(std::optional<int64_t> reset_seconds, TimePoint now) {
  Roll(now);
  remain_ = 0;
  TimePoint end =
      reset_seconds ? now + std::chrono::seconds(*reset_seconds) + kResetRounding : now + window_;
  window_end_ = window_end_ ? std::max(*window_end_, end) : end;
  return *window_end_;
}

void ErrorWindow::Restore(int64_t limit, bool learned, int64_t remain,
                          std::optional<TimePoint> window_end, bool probing,
                          std::deque<SpendTiming> recent) {
  limit_ = limit;
  learned_ = learned;
  remain_ = remain;
  window_end_ = window_end;
  probing_ = probing;
  recent_ = std::move(recent);
}

}  // namespace sluice::throttle
