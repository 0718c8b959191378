#include "sim/esi_limits.h"

#include <algorithm>

#include "sim/http_util.h"

namespace sluice::sim {

ErrorLimiter::ErrorLimiter(int budget, int window_seconds, const Clock* clock)
    : budget_(budget),
      window_(std::chrono::seconds(window_seconds)),
      clock_(clock),
      remain_(budget) {}

void ErrorLimiter::ExpireLocked(TimePoint now) {
  if (window_open_ && now >= window_end_) {
    window_open_ = false;
    remain_ = budget_;
  }
}

ErrorLimiter::State ErrorLimiter::StateLocked(TimePoint now) {
  State s;
  s.remain = remain_;
  s.reset_seconds = window_open_
                        ? CeilSeconds(window_end_ - now)
                        : std::chrono::duration_cast<std::chrono::seconds>(window_).count();
  s.limited = window_open_ && remain_ == 0;
  return s;
}

ErrorLimiter::State ErrorLimiter::Check() {
  TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now);
  return StateLocked(now);
}

ErrorLimiter::State ErrorLimiter::Record(int status) {
  TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now);
  // 420 is the penalty itself; counting it would make the penalty
  // self-sustaining, which ESI does not do.
  if (status >= 400 && status != 420) {
    if (!window_open_) {
      window_open_ = true;
      window_end_ = now + window_;
    }
    if (remain_ > 0) --remain_;
  }
  return StateLocked(now);
}

void ErrorLimiter::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  window_open_ = false;
  remain_ = budget_;
}

bool ErrorLimiter::Idle() {
  TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now);
  return !window_open_;
}

nlohmann::json ErrorLimiter::ToJson() {
  State s = Check();
  return {{"remain", s.remain},
          {"reset_seconds", s.reset_seconds},
          {"limited", s.limited},
          {"budget", budget_},
          {"window_seconds", std::chrono::duration_cast<std::chrono::seconds>(window_).count()}};
}

GroupLimiter::GroupLimiter(EsiGroupLimit limit, EsiCosts costs, const Clock* clock)
    : limit_(std::move(limit)),
      limit_header_(FormatEsiLimit(limit_)),
      costs_(costs),
      window_(std::chrono::seconds(limit_.window_seconds)),
      clock_(clock) {}

void GroupLimiter::ExpireLocked(TimePoint now) {
  while (head_ < spends_.size() && spends_[head_].at + window_ <= now) {
    used_ -= spends_[head_].tokens;
    ++head_;
    ++front_seq_;
  }
  // Compact once the returned spends are the larger half, so memory follows
  // the spends within one window and each spend is moved O(1) times.
  if (head_ == spends_.size()) {
    spends_.clear();
    head_ = 0;
  } else if (head_ >= 64 && 2 * head_ >= spends_.size()) {
    spends_.erase(spends_.begin(), spends_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

GroupLimiter::Snapshot GroupLimiter::SnapshotLocked() const {
  // A 4xx may cost more than what was left; the header never goes negative.
  return Snapshot{std::max(0, limit_.tokens - used_), used_};
}

GroupLimiter::Admission GroupLimiter::Admit() {
  TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now);
  Admission a;
  const int cost = costs_.status_2xx;
  int remaining = limit_.tokens - used_;
  if (remaining >= cost) {
    spends_.push_back(Spend{now, cost});
    used_ += cost;
    a.admitted = true;
    a.ticket = front_seq_ + (spends_.size() - head_) - 1;
  } else {
    // Walk the oldest spends until enough tokens would have come back.
    Duration wait = window_;
    for (size_t i = head_; i < spends_.size(); ++i) {
      const Spend& s = spends_[i];
      remaining += s.tokens;
      if (remaining >= cost) {
        wait = s.at + window_ - now;
        break;
      }
    }
    a.retry_after_seconds = std::max<int64_t>(1, CeilSeconds(wait));
  }
  a.snapshot = SnapshotLocked();
  return a;
}

GroupLimiter::Snapshot GroupLimiter::Settle(uint64_t ticket, int status) {
  TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now);
  // A spend already returned (the request outlived the window) needs no fix-up.
  if (ticket >= front_seq_ && ticket - front_seq_ < spends_.size() - head_) {
    Spend& s = spends_[head_ + (ticket - front_seq_)];
    int cost = costs_.ForStatus(status);
    used_ += cost - s.tokens;
    s.tokens = cost;
  }
  return SnapshotLocked();
}

GroupLimiter::Snapshot GroupLimiter::Peek() {
  TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now);
  return SnapshotLocked();
}

void GroupLimiter::Reset() {
  std::lock_guard<std::mutex> lock(mu_);
  front_seq_ += spends_.size() - head_;
  spends_.clear();
  head_ = 0;
  used_ = 0;
}

}  // namespace sluice::sim
