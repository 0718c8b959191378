// Clock is the seam for time: production code reads SystemClock, tests drive a
// FakeClock so lease expiry, backoff and window math run without sleeping.
//
// Thread-safety: both implementations are safe to call from any thread.
#ifndef SLUICE_COMMON_CLOCK_H_
#define SLUICE_COMMON_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice {

using TimePoint = std::chrono::system_clock::time_point;
using Duration = std::chrono::system_clock::duration;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  // A process-wide instance; never destroyed.
  static SystemClock* Get() {
    static SystemClock* clock = new SystemClock();
    return clock;
  }
};

// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(Duration(now_.load())); }
  void Advance(Duration d) { now_ += d.count(); }
  void Set(TimePoint t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<Duration::rep> now_;
};

inline double ToUnixSeconds(TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// The unix seconds a TimePoint can hold: its nanosecond count is an int64, so
// it ends in April 2262. Kept a little inside, so that seconds times 1e9 in a
// double cannot round past the end.
inline constexpr double kMaxUnixSeconds = 9.2e9;

// Saturates: seconds beyond +/-kMaxUnixSeconds (a PostgreSQL 'infinity', a
// JWT's exp far in the future) give TimePoint::max()/min() instead of the
// undefined behaviour of an out-of-range conversion; NaN gives the epoch.
inline TimePoint FromUnixSeconds(double s) {
  if (s != s) return TimePoint();
  if (s >= kMaxUnixSeconds) return TimePoint::max();
  if (s <= -kMaxUnixSeconds) return TimePoint::min();
  return TimePoint(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s)));
}

}  // namespace sluice

#endif  // SLUICE_COMMON_CLOCK_H_
