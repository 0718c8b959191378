#include "server/throttle/window.h"

#include <algorithm>

namespace sluice::throttle {
namespace {

// Coarse enough to bound memory (about 600 buckets per period), fine enough
// that rounding a call's return up to its bucket's latest member costs at most
// ~0.2% of the window, and never more than a second.
Duration GranularityFor(Duration period) {
  Duration g = period / 600;
  return std::clamp<Duration>(g, std::chrono::milliseconds(10), std::chrono::seconds(1));
}

}  // namespace

FloatingWindow::FloatingWindow(int64_t limit, Duration period, int64_t margin)
    : limit_(limit), period_(period), margin_(margin), granularity_(GranularityFor(period)) {}

void FloatingWindow::SetLimits(int64_t limit, Duration period, int64_t margin) {
  limit_ = limit;
  period_ = period;
  margin_ = margin;
  granularity_ = GranularityFor(period);
}

void FloatingWindow::Release(int64_t units) {
  in_flight_ = std::max<int64_t>(0, in_flight_ - units);
}

void FloatingWindow::Settle(int64_t reserved, int64_t actual, const SpendTiming& timing) {
  Release(reserved);
  Charge(actual, timing);
}

void FloatingWindow::Charge(int64_t units, const SpendTiming& timing) {
  if (units <= 0) return;
  ledger_units_ += units;
  const bool empty = head_ == ledger_.size();
  if (empty || timing.resp_hi >= ledger_.back().resp_hi) {
    if (!empty && timing.resp_hi - ledger_.back().first_resp <= granularity_) {
      Bucket& b = ledger_.back();
      b.resp_hi = timing.resp_hi;
      b.sent_lo = std::min(b.sent_lo, timing.sent_lo);
      b.units += units;
      return;
    }
    ledger_.push_back(Bucket{timing.resp_hi, timing.resp_hi, timing.sent_lo, units});
    return;
  }
  // Out of order (a late report): join the bucket whose span covers it, which
  // leaves its return time unchanged, or insert at its sorted place.
  auto it = ledger_.end();
  const auto live = ledger_.begin() + static_cast<std::ptrdiff_t>(head_);
  while (it != live && std::prev(it)->resp_hi > timing.resp_hi) --it;
  // *it is the first bucket with resp_hi > timing.resp_hi.
  if (it->first_resp <= timing.resp_hi) {
    it->sent_lo = std::min(it->sent_lo, timing.sent_lo);
    it->units += units;
    return;
  }
  ledger_.insert(it, Bucket{timing.resp_hi, timing.resp_hi, timing.sent_lo, units});
}

void FloatingWindow::Expire(TimePoint now) {
  while (head_ < ledger_.size() && ledger_[head_].resp_hi + period_ <= now) {
    ledger_units_ -= ledger_[head_].units;
    ++head_;
  }
  // Returned buckets stay readable for kReportGrace (ApplyUpstreamUsed);
  // they are dropped in runs, so the vector is not shifted on every call.
  size_t gone = 0;
  while (gone < head_ && ledger_[gone].resp_hi + period_ + kReportGrace <= now) ++gone;
  if (gone > 0 && (gone >= 32 || gone == ledger_.size())) {
    ledger_.erase(ledger_.begin(), ledger_.begin() + static_cast<std::ptrdiff_t>(gone));
    head_ -= gone;
  }
  for (std::vector<Step>* steps : {&phantom_, &external_}) {
    size_t dead = 0;
    while (dead < steps->size() && (*steps)[dead].until <= now) ++dead;
    if (dead > 0) steps->erase(steps->begin(), steps->begin() + dead);
  }
}

int64_t FloatingWindow::PhantomAt(TimePoint now) const {
  // After Expire(now) the first step is alive and, amounts decreasing, the max.
  return std::max(phantom_.empty() ? 0 : phantom_.front().amount,
                  external_.empty() ? 0 : external_.front().amount);
}

int64_t FloatingWindow::Available(TimePoint now) {
  Expire(now);
  return limit_ - margin_ - in_flight_ - ledger_units_ - PhantomAt(now);
}

int64_t FloatingWindow::Used(TimePoint now) {
  Expire(now);
  return in_flight_ + ledger_units_ + PhantomAt(now);
}

std::optional<TimePoint> FloatingWindow::EarliestAvailable(int64_t units, TimePoint now) {
  const int64_t in_flight = in_flight_;
  in_flight_ = 0;
  std::optional<TimePoint> t = NextAvailable(units, now);
  in_flight_ = in_flight;
  return t;
}

int64_t FloatingWindow::RoomAt(TimePoint t) const {
  int64_t counted = 0;
  for (size_t i = head_; i < ledger_.size(); ++i) {
    if (ledger_[i].resp_hi + period_ > t) counted += ledger_[i].units;
  }
  // Steps are sorted by `until` with decreasing amounts: the first alive at
  // t is the largest.
  int64_t phantom = 0;
  for (const std::vector<Step>* steps : {&phantom_, &external_}) {
    for (const Step& step : *steps) {
      if (step.until > t) {
        phantom = std::max(phantom, step.amount);
        break;
      }
    }
  }
  counted += phantom;
  return limit_ - margin_ - counted;
}

std::optional<TimePoint> FloatingWindow::NextAvailable(int64_t units, TimePoint now) {
  Expire(now);
  const int64_t room = limit_ - margin_ - in_flight_ - units;
  if (room < 0) return std::nullopt;
  int64_t ledger = ledger_units_;
  size_t b = head_;  // next bucket to return
  size_t s = 0;      // current phantom step
  size_t e = 0;      // current external step
  TimePoint t = now;
  while (true) {
    const int64_t phantom = std::max(s < phantom_.size() ? phantom_[s].amount : 0,
                                     e < external_.size() ? external_[e].amount : 0);
    if (ledger + phantom <= room) return t;
    // Advance to the next event: a bucket returning or a phantom step ending.
    TimePoint next = TimePoint::max();
    if (b < ledger_.size()) next = ledger_[b].resp_hi + period_;
    if (s < phantom_.size()) next = std::min(next, phantom_[s].until);
    if (e < external_.size()) next = std::min(next, external_[e].until);
    if (next == TimePoint::max()) return t;  // unreachable: all are empty
    t = std::max(t, next);
    while (b < ledger_.size() && ledger_[b].resp_hi + period_ <= t) ledger -= ledger_[b++].units;
    while (s < phantom_.size() && phantom_[s].until <= t) ++s;
    while (e < external_.size() && external_[e].until <= t) ++e;
  }
}

int64_t FloatingWindow::ApplyUpstreamUsed(int64_t upstream_used, const SpendTiming& x,
                                          TimePoint now) {
  Expire(now);
  const int64_t foreign = ForeignUsed(upstream_used, x);
  if (foreign <= 0) return 0;
  AddStep(&phantom_, foreign, x.resp_hi + period_);
  return foreign;
}

int64_t FloatingWindow::ApplyExternalUsed(int64_t upstream_used, const SpendTiming& x,
                                          TimePoint cap, TimePoint now) {
  Expire(now);
  const int64_t foreign = ForeignUsed(upstream_used, x);
  const TimePoint until = std::min(x.resp_hi + period_, cap);
  if (foreign <= 0 || until <= now) return 0;
  AddStep(&external_, foreign, until);
  return foreign;
}

int64_t FloatingWindow::ForeignUsed(int64_t upstream_used, const SpendTiming& x) const {
  // What the upstream may have counted of ours: everything alive, except
  // calls certainly sent after X was answered. Only buckets answered after X
  // can hold such calls, and they sit at the back.
  int64_t certainly_later = 0;
  const auto live_end = ledger_.rend() - static_cast<std::ptrdiff_t>(head_);
  for (auto it = ledger_.rbegin(); it != live_end && it->resp_hi > x.resp_hi; ++it) {
    if (it->sent_lo > x.resp_hi) certainly_later += it->units;
  }
  // Buckets that came back (in our model) after X may have been sent: the
  // upstream may still have counted them when X reached it. Our model
  // returns a unit no sooner than the upstream does, so one that came back
  // by x.sent_lo was certainly gone upstream too.
  int64_t recently_returned = 0;
  for (size_t i = head_; i > 0 && ledger_[i - 1].resp_hi + period_ > x.sent_lo; --i) {
    recently_returned += ledger_[i - 1].units;
  }
  const int64_t explained = in_flight_ + ledger_units_ + recently_returned - certainly_later;
  return upstream_used - explained;
}

void FloatingWindow::AddStep(std::vector<Step>* steps, int64_t amount, TimePoint until) {
  std::vector<Step>& phantom = *steps;
  // p: first step lasting at least as long as the new one.
  size_t p = 0;
  while (p < phantom.size() && phantom[p].until < until) ++p;
  if (p < phantom.size() && phantom[p].amount >= amount) return;  // already covered
  size_t first_dominated = p;
  while (first_dominated > 0 && phantom[first_dominated - 1].amount <= amount) --first_dominated;
  size_t end = p;
  if (end < phantom.size() && phantom[end].until == until) ++end;  // same end, smaller
  phantom.erase(phantom.begin() + first_dominated, phantom.begin() + end);
  phantom.insert(phantom.begin() + first_dominated, Step{until, amount});
}

std::vector<FloatingWindow::Bucket> FloatingWindow::ledger() const {
  return std::vector<Bucket>(ledger_.begin() + static_cast<std::ptrdiff_t>(head_), ledger_.end());
}

void FloatingWindow::RestoreLedger(std::vector<Bucket> buckets, std::vector<Step> phantom,
                                   std::vector<Step> external) {
  std::sort(buckets.begin(), buckets.end(),
            [](const Bucket& a, const Bucket& b) { return a.resp_hi < b.resp_hi; });
  ledger_.assign(buckets.begin(), buckets.end());
  head_ = 0;
  ledger_units_ = 0;
  for (const Bucket& b : ledger_) ledger_units_ += b.units;
  phantom_.clear();
  // Re-add through AddPhantom so the staircase invariant holds whatever the
  // stored order was.
  for (const Step& s : phantom) AddStep(&phantom_, s.amount, s.until);
  external_.clear();
  for (const Step& s : external) AddStep(&external_, s.amount, s.until);
}

}  // namespace sluice::throttle
