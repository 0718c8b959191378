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

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

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

// Who asks a throttler decision: its route limits (a team limited to
// upstreams or routes, credentials.h) and its counters. The default Asker (no
// credentials configured, or an internal caller) admits every route and
// counts nothing. Cheap to copy; borrows both pointers.
class Asker {
 public:
  Asker() = default;
  Asker(const Principal* principal, PrincipalUsage* usage) : principal_(principal), usage_(usage) {}

  // OK, or PERMISSION_DENIED naming the credential and what it may use
  // (counted as denied).
  absl::Status Admit(absl::string_view upstream, absl::string_view route) const;
  void Count(UsageEvent event, int64_t n = 1) const {
    if (usage_ != nullptr) usage_->Count(principal_, event, n);
  }

 private:
  const Principal* principal_ = nullptr;
  PrincipalUsage* usage_ = nullptr;
};

}  // namespace sluice

#endif  // SLUICE_COMMON_PRINCIPAL_USAGE_H_
