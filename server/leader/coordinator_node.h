// CoordinatorNode is one member of a group of coordinators sharing one
// database: it stands by until it leads, then runs a Coordinator fenced by
// its leader epoch, and steps down when it stops leading.
//
//   standby   StandbyServer on the gRPC port (health "" SERVING, Sluice
//             services NOT_SERVING, their methods UNAVAILABLE) and, on the ops
//             port, /healthz, /readyz (200: a standby is ready) and /metrics
//             with sluice_leader 0; LeaderElector tries the leader lock every
//             poll_interval.
//   takeover  lock held: apply migrations (if enabled) on a connection of
//             its own, take a new epoch (which waits for, or ends, the
//             earlier leader's transactions), stop the standby server, start
//             the Coordinator on the same port with that epoch. Its throttler
//             restores from system_state; an earlier leader that died left it
//             "not clean", which the throttler treats as such.
//   leading   LeaderElector checks the lock session every check_interval. A
//             lost session (or a newer epoch) deposes the Coordinator at once
//             (Coordinator::Depose) and the node stands by again.
//   Shutdown  a leader drains, writes its final throttler state (clean) and
//             only then releases the lock, so a standby takes over from a
//             clean state.
//
// Ownership: owns the elector, the standby server and the coordinator; every
// transition (and the coordinator's Start and Shutdown) happens on the node's
// own thread.
// Thread-safety: Start and Shutdown from one thread; the accessors from any.
#ifndef SLUICE_SERVER_LEADER_COORDINATOR_NODE_H_
#define SLUICE_SERVER_LEADER_COORDINATOR_NODE_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "server/coordinator.h"
#include "server/leader/leader_elector.h"
#include "server/leader/standby_server.h"
#include "server/ops/ops_http_server.h"

namespace sluice {

struct CoordinatorNodeOptions {
  CoordinatorOptions coordinator;
  // dsn defaults to the coordinator's; holder to "<hostname> pid <pid> <listen>".
  LeaderElectorOptions election;
};

class CoordinatorNode {
 public:
  explicit CoordinatorNode(CoordinatorNodeOptions options);
  ~CoordinatorNode();  // Shutdown(0)

  // Binds the gRPC port (as a standby) and starts contending. Returns once
  // the port is bound; leading comes later (WaitLeading).
  absl::Status Start();
  void Shutdown(std::chrono::milliseconds drain = std::chrono::seconds(10));

  int port() const { return port_; }
  // The ops listener's port (the standby's or the leader's); 0 when off.
  int ops_port() const { return ops_port_; }
  bool leading() const { return leading_.load(); }
  int64_t epoch() const { return elector_ ? elector_->epoch() : 0; }
  // True once leading, false at the timeout.
  bool WaitLeading(std::chrono::milliseconds timeout) const;
  // Not OK once the node has given up: a failed migration, or a schema that
  // cannot be led (FAILED_PRECONDITION: no retry can fix it). main() exits.
  absl::Status fatal() const;
  // Leaderships taken and lost by this node since Start.
  int64_t terms() const { return terms_.load(); }
  // The running coordinator while leading, else null. Only for tests, while
  // the node is known to lead.
  Coordinator* coordinator() { return coordinator_.get(); }

 private:
  void Run();
  // One term: takes over, leads until the lock is lost or Shutdown. OK when
  // the term ended by Shutdown.
  absl::Status Lead();
  absl::Status StartStandby();
  absl::Status StartStandbyOps();
  void StopStandby();
  absl::Status Migrate();

  CoordinatorNodeOptions options_;
  std::string host_;  // the listen address without its port
  std::unique_ptr<LeaderElector> elector_;
  std::unique_ptr<StandbyServer> standby_;
  std::unique_ptr<Authorizer> ops_authorizer_;  // the standby ops listener's gate, if any
  std::unique_ptr<OpsHttpServer> standby_ops_;
  std::unique_ptr<Coordinator> coordinator_;
  std::atomic<int> port_{0};
  std::atomic<int> ops_port_{0};
  std::atomic<bool> leading_{false};
  std::atomic<int64_t> terms_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> drain_ms_{0};  // set by Shutdown before stopping_
  mutable std::mutex mu_;
  absl::Status fatal_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_LEADER_COORDINATOR_NODE_H_
