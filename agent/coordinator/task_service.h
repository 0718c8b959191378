// TaskService is the agent core's view of the coordinator's AgentService:
// lease tasks, extend leases, report outcomes. Production: CoordinatorClient
// (gRPC); tests: in-memory fakes.
//
// Result reporting (CompleteTask/CompleteTasks/FailTask) is retried by the
// implementation while the coordinator is unreachable: a result is expensive
// (it cost a rate token) and the coordinator may just be restarting.
// FAILED_PRECONDITION means the lease was lost (fencing token superseded);
// callers log and drop.
//
// Thread-safety: implementations must allow concurrent calls.
#ifndef SLUICE_AGENT_COORDINATOR_TASK_SERVICE_H_
#define SLUICE_AGENT_COORDINATOR_TASK_SERVICE_H_

#include <vector>

#include "absl/status/statusor.h"
#include "sluice/v1/agent.pb.h"

namespace sluice::agent {

class TaskService {
 public:
  virtual ~TaskService() = default;
  // One attempt; the caller decides when to ask again.
  virtual absl::StatusOr<sluice::v1::LeaseTasksResponse> LeaseTasks(
      const sluice::v1::LeaseTasksRequest& request) = 0;
  // One attempt; the extender asks again on its next tick.
  virtual absl::StatusOr<sluice::v1::ExtendLeaseResponse> ExtendLease(
      const sluice::v1::ExtendLeaseRequest& request) = 0;
  // Retried on transient errors (see class comment).
  virtual absl::StatusOr<sluice::v1::CompleteTaskResponse> CompleteTask(
      const sluice::v1::CompleteTaskRequest& request) = 0;
  // Many results in one call (1..1000), one answer per completion in
  // request order. Retried on transient errors, both of the whole call and
  // of single completions the coordinator answered with a transient code
  // (its database was unreachable): only those are sent again. A completion
  // still failing when retrying ends gets that last error.
  virtual std::vector<absl::StatusOr<sluice::v1::CompleteTaskResponse>> CompleteTasks(
      const sluice::v1::CompleteTasksRequest& request) = 0;
  virtual absl::StatusOr<sluice::v1::FailTaskResponse> FailTask(
      const sluice::v1::FailTaskRequest& request) = 0;
  // Ends every retry loop now and makes later calls single-attempt (used
  // when a drain runs out of time).
  virtual void AbortRetries() = 0;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_COORDINATOR_TASK_SERVICE_H_
