// Coordinator assembles the coordinator process: PostgreSQL pool, schema
// migrations, the task queue, the global throttler (restored from and saved
// to system_state), the scheduler of periodic jobs, the gRPC services,
// health checking and server reflection. main() only parses flags into CoordinatorOptions; tests
// run a whole coordinator in-process through this class.
//
// Ownership: owns every component it builds; borrows the clock.
// Thread-safety: Start and Shutdown from one thread; accessors after Start.
#ifndef SLUICE_SERVER_COORDINATOR_H_
#define SLUICE_SERVER_COORDINATOR_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/grpc_security.h"
#include "server/ops/coordinator_metrics.h"
#include "server/ops/ops_history.h"
#include "server/ops/ops_http_server.h"
#include "server/ops/ops_sampler.h"
#include "server/queue/task_queue.h"
#include "server/scheduler/job_run_store.h"
#include "server/scheduler/scheduler.h"
#include "server/store/migrator.h"
#include "server/store/pg_pool.h"
#include "server/store/pg_queue_store.h"
#include "server/store/pg_state_store.h"
#include "server/throttle/esi_openapi.h"
#include "server/throttle/state_persister.h"
#include "server/throttle/throttler.h"
#include "server/workflows/workflows.h"

namespace sluice {

class AgentServiceImpl;
class AdminServiceImpl;
class ThrottleServiceImpl;

struct CoordinatorOptions {
  std::string listen = "0.0.0.0:50051";  // port 0 picks a free port
  std::string dsn;
  int db_pool_size = 16;
  bool migrate_on_start = true;
  // Claims wait for their commit's fsync (PgQueueStore::set_synchronous_claims).
  bool synchronous_claims = false;
  // The shared token: one credential holding every role (development and
  // compatibility); auth_file: credentials and their roles (credentials.h).
  // Neither: every call is admitted.
  std::string auth_token;
  std::string auth_file;
  std::string tls_cert;
  std::string tls_key;
  TaskQueueOptions queue;
  throttle::ThrottlerOptions throttle;
  // How often changed throttler state is written to system_state.
  std::chrono::milliseconds throttle_persist_interval{500};
  // ESI's OpenAPI document whose x-rate-limit extensions seed route -> group
  // mappings (esi_openapi.h); empty = learn from headers only. Re-read when
  // the file changes, checked this often.
  std::string esi_openapi_file;
  std::chrono::milliseconds esi_openapi_poll{30000};
  // Periodic jobs (daily ESI sequence, snapshots). Tests set enabled = false
  // so that nothing runs unless they ask for it.
  SchedulerOptions scheduler;
  // Killmail sync, contract aggregation, PoE streams (workflows/).
  WorkflowOptions workflows;
  const Clock* clock = SystemClock::Get();
  std::chrono::milliseconds health_interval{2000};
  // Operations HTTP listener (/metrics, /readyz, dashboard), "host:port";
  // empty = none.
  std::string ops_listen;
  // The ops listener's pages but the probes need an operator credential.
  bool ops_require_operator = false;
  // The dashboard's charts: the ops snapshot sampled this often into a ring
  // of this many points (ops_history.h), while the ops listener is on.
  std::chrono::milliseconds ops_history_interval{10000};
  size_t ops_history_points = 8640;
  // The leader epoch every connection of the pool stamps its transactions
  // with (server/leader/): writes fail once another coordinator has taken a
  // newer one. 0 = not fenced (a coordinator run without election: tests).
  int64_t leader_epoch = 0;
};

class Coordinator {
 public:
  explicit Coordinator(CoordinatorOptions options);
  ~Coordinator();

  // Connects, migrates (if enabled) and starts serving. A failed migration
  // returns its error and nothing is served.
  absl::Status Start();
  // Stops taking new calls, lets in-flight calls finish until the deadline,
  // then cancels the rest.
  void Shutdown(std::chrono::milliseconds drain = std::chrono::seconds(10));
  // For a coordinator that no longer leads: stops answering at once (no
  // grant, lease or commit after this returns has been started by it), then
  // shuts down without draining. Its last throttler write is refused by the
  // fence; the new leader restores as after a crash.
  void Depose();

  int port() const { return port_; }
  // The ops listener's port; 0 when it is off.
  int ops_port() const { return ops_port_; }
  TaskQueue* queue() { return queue_.get(); }
  PgQueueStore* queue_store() { return queue_store_.get(); }
  PgPool* pool() { return pool_.get(); }
  throttle::Throttler* throttler() { return throttler_.get(); }
  Scheduler* scheduler() { return scheduler_.get(); }

 private:
  // One round trip to PostgreSQL (the health loop's and /readyz's check).
  absl::Status PingDatabase();
  void HealthLoop();
  // The overall health and every Sluice service's.
  void SetHealth(bool serving);

  CoordinatorOptions options_;
  // First, so it outlives everything that reports to it.
  std::unique_ptr<CoordinatorMetrics> metrics_;
  TaskKindRegistry kinds_;
  TaskExtensionRegistry extensions_;
  std::unique_ptr<PgPool> pool_;
  std::unique_ptr<Migrator> migrator_;
  std::unique_ptr<PgQueueStore> queue_store_;
  std::unique_ptr<TaskQueue> queue_;
  std::unique_ptr<JobRunStore> job_run_store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<AgentServiceImpl> agent_service_;
  std::unique_ptr<AdminServiceImpl> admin_service_;
  std::vector<std::unique_ptr<WorkflowModule>> modules_;
  std::unique_ptr<OpsHttpServer> ops_;
  std::unique_ptr<OpsHistory> ops_history_;
  std::unique_ptr<OpsSampler> ops_sampler_;
  int ops_port_ = 0;
  std::unique_ptr<PgStateStore> state_store_;
  std::unique_ptr<throttle::Throttler> throttler_;
  std::unique_ptr<throttle::StatePersister> persister_;
  std::unique_ptr<throttle::EsiRouteSeeder> route_seeder_;
  std::unique_ptr<ThrottleServiceImpl> throttle_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread health_thread_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_COORDINATOR_H_
