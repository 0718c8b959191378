// CoordinatorClient is the gRPC TaskService: a thin wrapper over the
// AgentService stub that adds per-call deadlines, the bearer token and
// retries with jittered exponential backoff for results.
//
// Retried codes (results only): UNAVAILABLE (coordinator down or
// restarting), DEADLINE_EXCEEDED, ABORTED (a serialisation conflict in its
// transaction), RESOURCE_EXHAUSTED. A retried CompleteTask that had in fact
// committed comes back FAILED_PRECONDITION/NOT_FOUND on the retry, which the
// caller treats as "lease lost" - the data is in either way. CompleteTasks
// retries the same codes per completion, inside the same loop: the
// coordinator answers a batch it could not commit (database unreachable)
// with an OK call whose every result is UNAVAILABLE.
//
// Ownership: owns the stub. Thread-safety: safe for concurrent calls.
#ifndef SLUICE_AGENT_COORDINATOR_COORDINATOR_CLIENT_H_
#define SLUICE_AGENT_COORDINATOR_COORDINATOR_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "agent/coordinator/task_service.h"
#include "common/grpc_security.h"
#include "sluice/v1/agent.grpc.pb.h"

namespace sluice::agent {

struct CoordinatorClientOptions {
  // Auth token (and TLS, used when the channel was made); target unused.
  ClientOptions rpc;
  std::chrono::milliseconds rpc_timeout{10000};
  // How long one result is retried before it is given up (its lease has
  // long expired by then and another agent will redo the task).
  std::chrono::milliseconds result_retry_window{std::chrono::minutes(10)};
  std::chrono::milliseconds retry_initial{200};
  std::chrono::milliseconds retry_max{5000};
};

class CoordinatorClient final : public TaskService {
 public:
  CoordinatorClient(CoordinatorClientOptions options,
                    std::unique_ptr<sluice::v1::AgentService::StubInterface> stub);

  absl::StatusOr<sluice::v1::LeaseTasksResponse> LeaseTasks(
      const sluice::v1::LeaseTasksRequest& request) override;
  absl::StatusOr<sluice::v1::ExtendLeaseResponse> ExtendLease(
      const sluice::v1::ExtendLeaseRequest& request) override;
  absl::StatusOr<sluice::v1::CompleteTaskResponse> CompleteTask(
      const sluice::v1::CompleteTaskRequest& request) override;
  std::vector<absl::StatusOr<sluice::v1::CompleteTaskResponse>> CompleteTasks(
      const sluice::v1::CompleteTasksRequest& request) override;
  absl::StatusOr<sluice::v1::FailTaskResponse> FailTask(
      const sluice::v1::FailTaskRequest& request) override;
  void AbortRetries() override;

  static bool IsRetryable(absl::StatusCode code);

 private:
  // Runs `call` (one RPC with a fresh context) until it returns a status
  // IsRetryable does not retry, the window closes or retries are aborted.
  absl::Status CallWithRetry(const char* what,
                             const std::function<absl::Status(grpc::ClientContext*)>& call);
  // false if AbortRetries() interrupted the sleep.
  bool Sleep(std::chrono::milliseconds d);

  const CoordinatorClientOptions options_;
  const std::unique_ptr<sluice::v1::AgentService::StubInterface> stub_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> aborted_{false};
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_COORDINATOR_COORDINATOR_CLIENT_H_
