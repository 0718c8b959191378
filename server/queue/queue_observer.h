// QueueObserver is told how long the queue's claims and commits take, for
// the coordinator's latency histograms (server/ops/coordinator_metrics.h),
// without the queue knowing about metrics.
//
//   Claimed    one claim from the ready index for a LeaseTasks call (the
//              long-poll's sleeps between claims are not in it), and how
//              many tasks it handed out (0: nothing was ready).
//   Committed  one Complete/CompleteMany from its call until its group
//              commit is durable (or failed), and how many completions it
//              carried.
//
// Thread-safety: implementations are called from any thread, concurrently.
#ifndef SLUICE_SERVER_QUEUE_QUEUE_OBSERVER_H_
#define SLUICE_SERVER_QUEUE_QUEUE_OBSERVER_H_

#include <cstddef>

#include "common/clock.h"

namespace sluice {

class QueueObserver {
 public:
  virtual ~QueueObserver() = default;
  virtual void Claimed(Duration took, size_t tasks) = 0;
  virtual void Committed(Duration took, size_t completions, bool ok) = 0;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_QUEUE_OBSERVER_H_
