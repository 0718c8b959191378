#include "server/throttle/problem_log.h"

#include <glog/logging.h>

namespace sluice::throttle {

void ProblemLog::Report(const std::string& problem) {
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++total_;
    if (seen_.size() < kMaxDistinct) first = seen_.insert(problem).second;
  }
  if (first) LOG(WARNING) << "throttle: ignored (logged once): " << problem;
}

int64_t ProblemLog::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

}  // namespace sluice::throttle
