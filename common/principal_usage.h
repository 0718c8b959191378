// PrincipalUsage counts what each credential asked of the throttler's public
// API (NextPermitted, Acquire, Report and their batch and stream forms), so
// ListBudgets can show per-team figures. The throttle service counts after it
// has its answer; nothing here takes part in a decision.
//
// The set of names is fixed at construction (the credentials), so a count is
// one hash lookup in an immutable map and one relaxed atomic add.
//
// Thread-safety: Count and Snapshot from any thread.
#ifndef SLUICE_COMMON_PRINCIPAL_USAGE_H_
#define SLUICE_COMMON_PRINCIPAL_USAGE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace sluice {

struct Principal;

enum class UsageEvent {
  kNextPermitted,   // a NextPermitted answer
  kAcquireGranted,  // an Acquire that granted permits
  kAcquireRefused,  // an Acquire that did not
  kReport,          // a Report fed into the budgets
  kDenied,          // a call or item refused for the credential's limits
};

struct PrincipalCounts {
  std::string name;
  int64_t next_permitted = 0;
  int64_t acquire_granted = 0;
  int64_t acquire_refused = 0;
  int64_t reports = 0;
  int64_t denied = 0;
};

class PrincipalUsage {
 public:
  explicit PrincipalUsage(const std::vector<std::string>& names);
  PrincipalUsage(const PrincipalUsage&) = delete;
  PrincipalUsage& operator=(const PrincipalUsage&) = delete;

  // Adds n events to the principal's counters; a null or unknown principal
  // (no credentials configured) is not counted.
  void Count(const Principal* principal, UsageEvent event, int64_t n = 1);

  // Every principal with at least one count, in name order.
  std::vector<PrincipalCounts> Snapshot() const;

 private:
  struct Counters {
    std::atomic<int64_t> values[5] = {};
  };
  std::unordered_map<std::string, std::unique_ptr<Counters>> counters_;
};

}  // namespace sluice

#endif  // SLUICE_COMMON_PRINCIPAL_USAGE_H_
