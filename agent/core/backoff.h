// Exponential backoff with full jitter for retrying calls to the coordinator
// (and reconnecting streams): many agents restarting together must not
// hammer a coordinator that just came back.
//
// Thread-safety: none; one instance per retry loop.
#ifndef SLUICE_AGENT_CORE_BACKOFF_H_
#define SLUICE_AGENT_CORE_BACKOFF_H_

#include <algorithm>
#include <chrono>
#include <random>

namespace sluice::agent {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max), next_(initial), rng_(std::random_device{}()) {}

  // The wait before the next attempt: uniform in [next/2, next], then next
  // doubles up to max.
  std::chrono::milliseconds Next() {
    auto ceiling = next_;
    next_ = std::min(max_, next_ * 2);
    std::uniform_int_distribution<long long> dist(ceiling.count() / 2, ceiling.count());
    return std::chrono::milliseconds(dist(rng_));
  }
  void Reset() { next_ = initial_; }

 private:
  const std::chrono::milliseconds initial_;
  const std::chrono::milliseconds max_;
  std::chrono::milliseconds next_;
  std::mt19937_64 rng_;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_CORE_BACKOFF_H_
