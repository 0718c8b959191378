// ProblemLog logs each distinct problem (a malformed header value, a report
// for an unknown lease, ...) once, so a misbehaving upstream or agent cannot
// flood the coordinator's log, and counts every occurrence.
//
// Memory is bounded: after kMaxDistinct distinct problems, new ones are only
// counted. Thread-safety: all methods are safe from any thread.
#ifndef SLUICE_SERVER_THROTTLE_PROBLEM_LOG_H_
#define SLUICE_SERVER_THROTTLE_PROBLEM_LOG_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_set>

namespace sluice::throttle {

class ProblemLog {
 public:
  static constexpr size_t kMaxDistinct = 1024;

  // Logs `problem` at WARNING the first time it is seen.
  void Report(const std::string& problem);
  int64_t total() const;

 private:
  mutable std::mutex mu_;
  std::unordered_set<std::string> seen_;  // guarded by mu_
  int64_t total_ = 0;                     // guarded by mu_
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_PROBLEM_LOG_H_
