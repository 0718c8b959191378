// DueSchedule: what the queue store knows of when rows of each kind next
// become due (a lease runs out, a backoff or a stream's wait ends), so a
// claim runs the promotion statement only when some row of its kinds may be
// due, and an agent polling an empty queue costs the database nothing.
//
// It errs towards checking: a kind it knows nothing of is due now. A claim
// that promotes a kind also reads, in the same transaction, the earliest
// time any row of that kind still waiting becomes due (BeginCheck /
// FinishCheck); every later write of this coordinator that gives a row of
// the kind an earlier time lowers it (Lower), including writes that commit
// while the check runs. Writes by anything else are not seen: Forget()
// makes every kind due again (the store's periodic check calls it, and a
// caller that wrote the table directly).
//
// Ownership: plain data. Thread-safety: every method is safe from any
// thread.
#ifndef SLUICE_SERVER_QUEUE_DUE_SCHEDULE_H_
#define SLUICE_SERVER_QUEUE_DUE_SCHEDULE_H_

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"

namespace sluice {

class DueSchedule {
 public:
  // Whether a row of any of `kinds` may be due at `now`.
  bool MayBeDue(const std::vector<std::string>& kinds, TimePoint now) const;

  // A row of `kind` becomes due at `at` (called once its write committed).
  void Lower(const std::string& kind, TimePoint at);

  // A promotion of `kinds` starts; then FinishCheck with what the table
  // said (per kind, the earliest time a waiting row becomes due; nullopt:
  // none waits), or FailCheck if the transaction failed.
  void BeginCheck(const std::vector<std::string>& kinds);
  void FinishCheck(const std::map<std::string, std::optional<TimePoint>>& next);
  void FailCheck(const std::vector<std::string>& kinds);

  // Every kind is due now.
  void Forget();

 private:
  struct Kind {
    // Unknown: due now. TimePoint::max(): nothing waits.
    std::optional<TimePoint> next;
    bool checking = false;
    // Lowered while checking: the check's answer may predate these writes.
    std::optional<TimePoint> lowered;
  };
  mutable std::mutex mu_;
  std::map<std::string, Kind> kinds_;  // guarded by mu_
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_DUE_SCHEDULE_H_
