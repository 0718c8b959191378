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

inline TimePoint FromUnixSeconds(double s) {
  return TimePoint(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s)));
}

}  // namespace sluice

#endif  // SLUICE_COMMON_CLOCK_H_
