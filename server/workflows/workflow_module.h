// WorkflowModule is one workflow of the coordinator: the core ESI sync
// (workflows/esi), killmail sync (workflows/killmails), public contract
// aggregation (workflows/contracts), the PoE cursor streams and their
// transforms. A module brings its task kinds and their TaskExtensions
// (store/task_extension.h), its scheduler jobs, and any gRPC service of its
// own (kept in the module's folder); the Coordinator only calls the four
// methods below, in this order: RegisterKinds (also callable alone, by
// tests), Wire, Start, Stop.
//
// Ownership: the Coordinator owns its modules; WorkflowWiring only borrows.
// Thread-safety: the Coordinator calls these from one thread; what a module
// registers must be thread-safe on its own terms.
#ifndef SLUICE_SERVER_WORKFLOWS_WORKFLOW_MODULE_H_
#define SLUICE_SERVER_WORKFLOWS_WORKFLOW_MODULE_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "common/grpc_security.h"
#include "server/queue/task_kinds.h"
#include "server/queue/task_queue.h"
#include "server/scheduler/scheduler.h"
#include "server/store/pg_pool.h"
#include "server/store/task_extension.h"
#include "server/throttle/throttler.h"

namespace sluice {

// What the coordinator lends its modules. Everything outlives the module's
// Stop().
struct WorkflowWiring {
  PgPool* pool = nullptr;
  TaskQueue* queue = nullptr;
  Scheduler* scheduler = nullptr;  // AddJob only during Wire
  const Clock* clock = nullptr;
  const Authorizer* authorizer = nullptr;
  throttle::Throttler* throttler = nullptr;
  // Services to register on the coordinator's server (owned by the module).
  std::vector<grpc::Service*>* services = nullptr;
};

class WorkflowModule {
 public:
  virtual ~WorkflowModule() = default;
  // Task kinds and their extensions, into the coordinator's registries. An
  // error (a kind another module defines differently) stops the coordinator.
  virtual absl::Status RegisterKinds(TaskKindRegistry& kinds,
                                     TaskExtensionRegistry& extensions) = 0;
  // Jobs and services; called once, before the server starts.
  virtual void Wire(WorkflowWiring& wiring) = 0;
  // After the server is serving (background loops may start here).
  virtual void Start() {}
  // Before the scheduler and the server stop; idempotent.
  virtual void Stop() {}
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_WORKFLOW_MODULE_H_
