// LeaderElector decides which of the coordinators sharing one database leads.
//
// Leading means holding a PostgreSQL session advisory lock
// (lock_keys::kLeader) on a connection of the elector's own, plus an epoch
// taken after the lock (TakeEpoch), which the leader's pool stamps on every
// transaction so that the fence in db/migrations/0015_leader.sql refuses a
// deposed leader's late writes.
//
//   AcquireLock  standby: tries the lock every poll_interval until it is
//                held (or `stop` is set).
//   TakeEpoch    with the lock held (and the schema at 0015 or later): bumps
//                the epoch, waiting for earlier leaders' transactions to end
//                (ending their sessions if they take longer than 2 s).
//   StartWatch   leader: checks every check_interval that the lock session
//                answers and the epoch is still ours. Lost() is true from
//                the first failed check, or once no check has succeeded for
//                lost_after (a check blocked on a dead network counts, too).
//   Resign       ends the session, which releases the lock.
//
// Ownership: owns its connection and watch thread.
// Thread-safety: Lost(), epoch() and holder() from any thread; the rest from
// one thread.
#ifndef SLUICE_SERVER_LEADER_LEADER_ELECTOR_H_
#define SLUICE_SERVER_LEADER_LEADER_ELECTOR_H_

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

struct LeaderElectorOptions {
  std::string dsn;
  // Written to sluice_leader.holder: who leads (host, pid, listen address).
  std::string holder;
  std::chrono::milliseconds poll_interval{500};
  std::chrono::milliseconds check_interval{500};
  std::chrono::milliseconds lost_after{3000};
};

class LeaderElector {
 public:
  explicit LeaderElector(LeaderElectorOptions options);
  ~LeaderElector();  // Resign()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // OK once the lock is held; CANCELLED when `stop` was set first.
  absl::Status AcquireLock(const std::atomic<bool>& stop);
  // The new epoch. FAILED_PRECONDITION when the schema predates 0015.
  absl::StatusOr<int64_t> TakeEpoch();
  void StartWatch();
  bool Lost() const;
  void Resign();

  int64_t epoch() const { return epoch_.load(); }
  const std::string& holder() const { return options_.holder; }

 private:
  absl::Status Connect();
  void WatchLoop();
  static int64_t NowNs();

  const LeaderElectorOptions options_;
  std::mutex conn_mu_;                      // the connection is used by one thread at a time
  std::unique_ptr<pqxx::connection> conn_;  // guarded by conn_mu_
  std::atomic<int64_t> epoch_{0};
  std::atomic<bool> watching_{false};
  std::atomic<bool> lost_{false};
  std::atomic<int64_t> last_ok_ns_{0};
  std::thread watch_;
};

// Sleeps up to `d`, waking within 20 ms once `stop` is set: the election's
// waits (a standby's polls, a node's back-off) end promptly at shutdown.
void SleepUnless(const std::atomic<bool>& stop, std::chrono::milliseconds d);

// PgPool's on_connect for a leader's pool: stamps every transaction of the
// connection with `epoch`, which 0015_leader.sql's fence checks, and names the
// session so that a newer leader can end it.
std::function<void(pqxx::connection&)> FenceSessions(int64_t epoch);

}  // namespace sluice

#endif  // SLUICE_SERVER_LEADER_LEADER_ELECTOR_H_
