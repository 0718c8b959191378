// LeaseSizer picks how many tasks the agent's next LeaseTasks call asks for.
//
// A fixed size when the operator set one (--max_tasks). Otherwise enough for
// `horizon` of work at the rate tasks finish on this agent, never fewer than
// `floor` (2 x workers: each worker has a task and one waits behind it) nor
// more than `ceiling`. Tasks that wait on an upstream finish at the
// upstream's pace, so the lease stays small and few leases sit waiting for
// rate tokens; tasks that finish in microseconds (a cache, a 304, a test
// double) would otherwise drain a small batch faster than a lease round trip
// and leave the workers waiting on the coordinator.
//
// Thread-safety: not thread-safe; the agent's leaser thread owns it.
#ifndef SLUICE_AGENT_CORE_LEASE_SIZER_H_
#define SLUICE_AGENT_CORE_LEASE_SIZER_H_

#include <chrono>
#include <cstdint>

namespace sluice::agent {

class LeaseSizer {
 public:
  using Clock = std::chrono::steady_clock;

  // fixed > 0: always that many (clamped to ceiling); 0: adaptive.
  LeaseSizer(int fixed, int floor, int ceiling, Clock::duration horizon);

  // The size of the next lease, given how many tasks this agent has finished
  // so far (a running total) at `now`.
  int Next(int64_t finished, Clock::time_point now);

  // Tasks per second finished, as estimated at the last Next.
  double rate() const { return rate_; }

 private:
  const int fixed_;
  const int floor_;
  const int ceiling_;
  const double horizon_s_;
  bool started_ = false;
  Clock::time_point sampled_at_;
  int64_t sampled_finished_ = 0;
  double rate_ = 0;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_CORE_LEASE_SIZER_H_
