// StatePersister keeps the throttler's state in the coordinator's
// system_state table (through the StateStore seam) so a restart does not
// forget budgets ("budget amnesia", seed 000):
//
//   Load()   at start-up, before serving: restores the stored snapshot. No
//            stored state is fine; an unreadable one is reported and the
//            throttler keeps its conservative defaults.
//   Start()  a writer thread that, at most every `interval`, writes a
//            snapshot if the throttler changed since the last write
//            (coalescing any number of changes into one write).
//   Stop()   after the gRPC server has stopped: a final snapshot marked
//            clean_shutdown (all reservations are in it), then the thread
//            ends. Without it (a crash) the next start restores the last
//            periodic snapshot and probes every budget first.
//
// Ownership: borrows the Throttler and the StateStore; both must outlive it.
// Thread-safety: Load/Start/Stop from one thread; Flush from any.
#ifndef SLUICE_SERVER_THROTTLE_STATE_PERSISTER_H_
#define SLUICE_SERVER_THROTTLE_STATE_PERSISTER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "server/store/state_store.h"
#include "server/throttle/throttle_state.h"
#include "server/throttle/throttler.h"

namespace sluice::throttle {

struct StatePersisterOptions {
  std::chrono::milliseconds interval{500};
  std::string key = kThrottleStateKey;
};

class StatePersister {
 public:
  StatePersister(Throttler* throttler, StateStore* store, StatePersisterOptions options = {});
  ~StatePersister();  // Stop() if still running
  StatePersister(const StatePersister&) = delete;
  StatePersister& operator=(const StatePersister&) = delete;

  absl::Status Load();
  void Start();
  // Final clean write, then stops the thread. Idempotent; returns the write's status.
  absl::Status Stop();
  // Writes a snapshot now, changed or not.
  absl::Status Flush(bool clean_shutdown = false);

  int64_t writes() const { return writes_.load(); }
  int64_t failures() const { return failures_.load(); }

 private:
  void Loop();
  absl::Status Write(bool clean_shutdown);

  Throttler* const throttler_;
  StateStore* const store_;
  const StatePersisterOptions options_;

  std::mutex write_mu_;  // serialises writes
  uint64_t written_change_ = 0;  // guarded by write_mu_
  bool ever_written_ = false;    // guarded by write_mu_

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;     // guarded by mu_
  bool stopped_ = false;  // guarded by mu_
  std::thread thread_;
  std::atomic<int64_t> writes_{0};
  std::atomic<int64_t> failures_{0};
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_STATE_PERSISTER_H_
