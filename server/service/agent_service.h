// AgentServiceImpl translates sluice.v1.AgentService calls to TaskQueue
// calls and back. No queue logic lives here.
//
// Ownership: borrows queue and authorizer. Thread-safety: gRPC calls methods
// concurrently; the class holds no mutable state.
#ifndef SLUICE_SERVER_SERVICE_AGENT_SERVICE_H_
#define SLUICE_SERVER_SERVICE_AGENT_SERVICE_H_

#include "common/grpc_security.h"
#include "server/queue/task_queue.h"
#include "sluice/v1/agent.grpc.pb.h"

namespace sluice {

class AgentServiceImpl final : public v1::AgentService::Service {
 public:
  AgentServiceImpl(TaskQueue* queue, const Authorizer* auth) : queue_(queue), auth_(auth) {}

  grpc::Status LeaseTasks(grpc::ServerContext* ctx, const v1::LeaseTasksRequest* req,
                          v1::LeaseTasksResponse* resp) override;
  grpc::Status ExtendLease(grpc::ServerContext* ctx, const v1::ExtendLeaseRequest* req,
                           v1::ExtendLeaseResponse* resp) override;
  grpc::Status CompleteTask(grpc::ServerContext* ctx, const v1::CompleteTaskRequest* req,
                            v1::CompleteTaskResponse* resp) override;
  grpc::Status CompleteTasks(grpc::ServerContext* ctx, const v1::CompleteTasksRequest* req,
                             v1::CompleteTasksResponse* resp) override;
  grpc::Status FailTask(grpc::ServerContext* ctx, const v1::FailTaskRequest* req,
                        v1::FailTaskResponse* resp) override;

 private:
  TaskQueue* queue_;
  const Authorizer* auth_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_SERVICE_AGENT_SERVICE_H_
