// StatePersister keeps the throttler's state in the coordinator's
// system_state table (through the StateStore seam) so a restart does not
// forget budgets ("budget amnesia", seed 000). It writes one row per budget
// (throttle_state.h), and only the rows that changed:
//
//   Load()   at start-up, before serving: turns on the throttler's
//            write-ahead grant allowance (grant_allowance.h), restores the
//            stored rows (or the version-1 document), then marks the stored
//            state "not clean", so a crash from here on is read as one. No
//            stored state is fine; an unreadable one is reported and the
//            throttler keeps its conservative defaults.
//   Start()  a writer thread that, at most every `interval`, takes the
//            throttler's delta (budgets changed or dropped since the last
//            one) and writes it in one transaction. A failed write is kept
//            and merged with the next delta, so nothing is lost while the
//            database is away. Each committed write hands its rows'
//            allowances back to the throttler (CommitAllowances); while
//            writes fail, grants stop once the last committed allowances are
//            used, as a deposed or cut-off leader's must.
//   Stop()   after the gRPC server has stopped: a final delta, then the meta
//            row marked clean_shutdown (every reservation is in the rows),
//            then the thread ends. Without it (a crash) the next start
//            restores the last rows and probes every budget first.
//
// Ownership: borrows the Throttler and the StateStore; both must outlive it.
// Thread-safety: Load/Start/Stop from one thread; Flush from any.
#ifndef SLUICE_SERVER_THROTTLE_STATE_PERSISTER_H_
#define SLUICE_SERVER_THROTTLE_STATE_PERSISTER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "server/throttle/state_store.h"
#include "server/throttle/throttle_state.h"
#include "server/throttle/throttler.h"

namespace sluice::throttle {

struct StatePersisterOptions {
  std::chrono::milliseconds interval{500};
};

class StatePersister {
 public:
  struct WriteStats {
    int64_t rows = 0;   // rows upserted or deleted by the last write
    int64_t bytes = 0;  // bytes of JSON it sent
    Duration took{};    // how long it took
    // The longest the throttler's decision lock was held for it (one
    // TakeDelta chunk): what a decision could have waited on the write.
    Duration longest_lock_hold{};
  };

  StatePersister(Throttler* throttler, StateStore* store, StatePersisterOptions options = {});
  ~StatePersister();  // Stop() if still running
  StatePersister(const StatePersister&) = delete;
  StatePersister& operator=(const StatePersister&) = delete;

  absl::Status Load();
  void Start();
  // Final clean write, then stops the thread. Idempotent; returns the write's status.
  absl::Status Stop();
  // Writes what changed now (and, with clean_shutdown, marks the state clean).
  absl::Status Flush(bool clean_shutdown = false);

  int64_t writes() const { return writes_.load(); }
  int64_t failures() const { return failures_.load(); }
  WriteStats last_write() const;

 private:
  void Loop();
  // Requires write_mu_.
  // bounded: at most kMaxChunksPerWrite chunks (the periodic writes, which
  // race with decisions); Flush and the final write take everything.
  absl::Status WriteLocked(bool clean_shutdown, bool bounded = false);

  Throttler* const throttler_;
  StateStore* const store_;
  const StatePersisterOptions options_;

  mutable std::mutex write_mu_;  // serialises writes
  uint64_t written_change_ = 0;  // guarded by write_mu_
  bool ever_written_ = false;    // guarded by write_mu_
  // The last write stopped with changes still in the throttler (more than a
  // write takes at once): the next round writes even if nothing changed.
  bool changes_left_ = false;  // guarded by write_mu_
  // Rows not yet written (a failed write is retried with the next delta):
  // key -> JSON, or nullopt to delete. Guarded by write_mu_.
  std::map<std::string, std::optional<std::string>> pending_;
  // The allowances of the budget rows in pending_, by budget name: handed
  // back to the throttler when a write commits them. Guarded by write_mu_.
  std::map<std::string, AllowanceCommit> pending_allowances_;
  bool legacy_to_delete_ = false;  // guarded by write_mu_
  WriteStats last_write_;          // guarded by write_mu_

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
