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
  if (charge_ && now >= ChargeEnd()) charge_.reset();
  if (!window_end_ || now < *window_end_) return;
  // A charge answered well before the end was counted in the window that
  // ended (as an error is, below); one close to it may be in the next.
  if (charge_ && charge_->timing.resp_hi + kSameWindow < *window_end_) charge_.reset();
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

TimePoint ErrorWindow::ChargeEnd() const {
  return charge_ ? charge_->timing.resp_hi + window_ + kResetRounding : TimePoint{};
}

int64_t ErrorWindow::ChargeAt(TimePoint t) const {
  if (!charge_ || t >= ChargeEnd()) return 0;
  // Past the tracked window's end only if answered close to it (Roll).
  if (window_end_ && t >= *window_end_ && charge_->timing.resp_hi + kSameWindow < *window_end_) {
    return 0;
  }
  return charge_->count;
}

int64_t ErrorWindow::OwnRemain(TimePoint now) const {
  return std::max<int64_t>(0, remain_ - ChargeAt(now));
}

int64_t ErrorWindow::Remain(TimePoint now) const {
  std::optional<int64_t> external = external_remain(now);
  const int64_t own = OwnRemain(now);
  return external ? std::min(own, std::max<int64_t>(0, *external - ChargeAt(now))) : own;
}

int64_t ErrorWindow::Available(TimePoint now) {
  Roll(now);
  return Remain(now) - margin_ - in_flight_;
}

std::optional<TimePoint> ErrorWindow::NextTime(int64_t units, int64_t held, TimePoint now) {
  Roll(now);
  if (Remain(now) - margin_ - held >= units) return now;
  if (external_remain(now) && OwnRemain(now) - margin_ - held >= units &&
      (!window_end_ || external_until_ < *window_end_)) {
    return external_until_;  // only the external estimate stands in the way
  }
  if (charge_) {
    // The charge ends before the window does: what is seen remains.
    const TimePoint end = ChargeEnd();
    if ((!window_end_ || end < *window_end_) && remain_ - margin_ - held >= units &&
        (!external_remain(now) || external_until_ <= end)) {
      return end;
    }
  }
  if (window_end_) {
    const int64_t carried = ChargeAt(*window_end_);
    if (limit_ - carried - margin_ - held >= units) return *window_end_;
    if (limit_ - margin_ - held >= units) return std::max(*window_end_, ChargeEnd());
  }
  return std::nullopt;
}

std::optional<TimePoint> ErrorWindow::NextAvailable(int64_t units, TimePoint now) {
  return NextTime(units, in_flight_, now);
}

std::optional<TimePoint> ErrorWindow::EarliestAvailable(int64_t units, TimePoint now) {
  return NextTime(units, 0, now);
}

void ErrorWindow::ChargeTakeover(int64_t count, const SpendTiming& timing, TimePoint now) {
  Roll(now);
  if (count <= 0) return;
  if (charge_) {  // not expected (one restore each), but never lose one
    charge_->count += count;
    charge_->timing.sent_lo = std::min(charge_->timing.sent_lo, timing.sent_lo);
    charge_->timing.resp_hi = std::max(charge_->timing.resp_hi, timing.resp_hi);
  } else {
    charge_ = Charge{count, timing};
  }
}

bool ErrorWindow::SettleCharge(TimePoint answered_by, int64_t keep, TimePoint now) {
  Roll(now);
  if (!charge_) return false;
  const Charge kept{std::min(keep, charge_->count), charge_->timing};
  charge_->count -= kept.count;
  charge_->timing.resp_hi = std::min(charge_->timing.resp_hi, answered_by);
  charge_->timing.sent_lo = std::min(charge_->timing.sent_lo, charge_->timing.resp_hi);
  if (charge_->count <= 0) charge_.reset();
  for (int64_t i = 0; i < kept.count; ++i) RecordError(kept.timing, now);
  Roll(now);  // it may have left its window already
  return true;
}

bool ErrorWindow::ReplaceCharge(const std::vector<SpendTiming>& errors, int64_t keep,
                                TimePoint now) {
  Roll(now);
  if (!charge_) return false;
  const Charge kept{std::min(keep, charge_->count), charge_->timing};
  charge_.reset();
  for (int64_t i = 0; i < kept.count; ++i) RecordError(kept.timing, now);
  for (const SpendTiming& e : errors) RecordError(e, now);
  return true;
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
  // Compared without the takeover charge, which ends on its own.
  std::optional<int64_t> held_external = external_remain(now);
  if (estimate >= (held_external ? std::min(remain_, *held_external) : remain_)) return false;
  external_remain_ = held_external ? std::min(*held_external, estimate) : estimate;
  external_until_ = held_external ? std::max(external_until_, until) : until;
  return true;
}

void ErrorWindow::ApplyHeader(int64_t remain, std::optional<int64_t> reset_seconds,
                              const SpendTiming& x, bool x_was_error, TimePoint now) {
  Roll(now);
  Trim(now);
  // X was sent after the charge's every call was answered: the upstream
  // counted those in `remain` as it did every other error before X.
  if (charge_ && x.sent_lo > charge_->timing.resp_hi) charge_.reset();
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
  charge_.reset();
}

}  // namespace sluice::throttle
