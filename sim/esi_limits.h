// ESI's two budgets, each for one payer (EsiMeter decides who pays and keeps
// one limiter per payer).
//
// ErrorLimiter: an allowance of error responses (4xx/5xx) per window for one
// source address. Once it is spent every route answers 420 to that address
// until the window ends. The window opens with the first error after the
// previous one closed, so a quiet client always sees the full budget.
//
// GroupLimiter: ESI's floating-window token bucket for one (rate-limit group,
// caller) pair. Each response costs tokens by status class; each spent token
// comes back exactly one window after it was spent. A request arriving with
// fewer tokens than a 2xx costs gets 429 and costs nothing.
//
// Ownership: owned (shared) by EsiMeter's tables and the requests using them;
// the Clock is borrowed and must outlive them.
// Thread-safety: every method is safe to call concurrently (one mutex each).
#ifndef SLUICE_SIM_ESI_LIMITS_H_
#define SLUICE_SIM_ESI_LIMITS_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "sim/config.h"

namespace sluice::sim {

class ErrorLimiter {
 public:
  struct State {
    int remain = 0;
    int64_t reset_seconds = 0;  // until the current window ends
    bool limited = false;       // remain == 0 inside an open window
  };

  ErrorLimiter(int budget, int window_seconds, const Clock* clock);

  // The state a request arriving now sees; limited means answer 420.
  State Check();
  // Counts `status` (4xx/5xx other than 420) against the budget; returns the
  // state to report on that response.
  State Record(int status);
  void Reset();
  // No window open: the full budget, like a limiter never used.
  bool Idle();
  nlohmann::json ToJson();
  int budget() const { return budget_; }

 private:
  State StateLocked(TimePoint now);
  void ExpireLocked(TimePoint now);

  const int budget_;
  const Duration window_;
  const Clock* const clock_;
  std::mutex mu_;
  int remain_;                // guarded by mu_
  bool window_open_ = false;  // guarded by mu_
  TimePoint window_end_;      // guarded by mu_
};

class GroupLimiter {
 public:
  struct Snapshot {
    int remaining = 0;
    int used = 0;
  };
  struct Admission {
    bool admitted = false;
    uint64_t ticket = 0;              // pass to Settle() when admitted
    int64_t retry_after_seconds = 0;  // when refused
    Snapshot snapshot;
  };

  GroupLimiter(EsiGroupLimit limit, EsiCosts costs, const Clock* clock);

  // Reserves a 2xx's cost, or refuses when fewer tokens remain.
  Admission Admit();
  // Replaces the reservation with the cost of the actual `status`.
  Snapshot Settle(uint64_t ticket, int status);
  Snapshot Peek();
  void Reset();
  // Every token back: the same as a bucket never used.
  bool Idle() { return Peek().used == 0; }

  const EsiGroupLimit& limit() const { return limit_; }
  // "600/1m"
  const std::string& limit_header() const { return limit_header_; }

 private:
  struct Spend {
    TimePoint at;
    int tokens;
  };
  void ExpireLocked(TimePoint now);
  Snapshot SnapshotLocked() const;

  const EsiGroupLimit limit_;
  const std::string limit_header_;
  const EsiCosts costs_;
  const Duration window_;
  const Clock* const clock_;
  std::mutex mu_;
  // Spends in arrival order, live from spends_[head_] on (a vector, not a
  // deque: an idle deque still holds a 512-byte block, and there is a bucket
  // per caller). front_seq_ is the ticket of spends_[head_], so a
  // ticket maps to an index without a search.
  std::vector<Spend> spends_;  // guarded by mu_
  size_t head_ = 0;            // guarded by mu_
  uint64_t front_seq_ = 0;     // guarded by mu_
  int used_ = 0;               // sum of spends_; guarded by mu_
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_ESI_LIMITS_H_
