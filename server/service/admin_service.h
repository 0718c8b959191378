// AdminServiceImpl translates sluice.v1.AdminService (operators, sluicectl,
// grpcurl) to TaskQueue, Migrator and Scheduler calls. A StartDaily is a
// driven run of the job "daily" (Scheduler::OpenDrivenRun): the constructor
// registers that name with the scheduler, so it must run before the
// scheduler starts.
//
// Ownership: borrows everything. Thread-safety: no mutable state.
#ifndef SLUICE_SERVER_SERVICE_ADMIN_SERVICE_H_
#define SLUICE_SERVER_SERVICE_ADMIN_SERVICE_H_

#include "common/grpc_security.h"
#include "server/queue/task_queue.h"
#include "server/scheduler/scheduler.h"
#include "server/store/migrator.h"
#include "sluice/v1/admin.grpc.pb.h"

namespace sluice {

class AdminServiceImpl final : public v1::AdminService::Service {
 public:
  // The job_runs name of StartDaily's runs.
  static constexpr char kDailyJob[] = "daily";

  AdminServiceImpl(TaskQueue* queue, Migrator* migrator, Scheduler* scheduler, const Clock* clock,
                   const Authorizer* auth)
      : queue_(queue), migrator_(migrator), scheduler_(scheduler), clock_(clock), auth_(auth) {
    scheduler_->AddDrivenJob(kDailyJob);
  }

  grpc::Status Enqueue(grpc::ServerContext* ctx, const v1::EnqueueRequest* req,
                       v1::EnqueueResponse* resp) override;
  grpc::Status QueueStatus(grpc::ServerContext* ctx, const v1::QueueStatusRequest* req,
                           v1::QueueStatusResponse* resp) override;
  grpc::Status StartDaily(grpc::ServerContext* ctx, const v1::StartDailyRequest* req,
                          v1::StartDailyResponse* resp) override;
  grpc::Status FinishDaily(grpc::ServerContext* ctx, const v1::FinishDailyRequest* req,
                           v1::FinishDailyResponse* resp) override;
  grpc::Status EntityCounts(grpc::ServerContext* ctx, const v1::EntityCountsRequest* req,
                            v1::EntityCountsResponse* resp) override;
  grpc::Status Migrate(grpc::ServerContext* ctx, const v1::MigrateRequest* req,
                       v1::MigrateResponse* resp) override;
  grpc::Status ListJobRuns(grpc::ServerContext* ctx, const v1::ListJobRunsRequest* req,
                           v1::ListJobRunsResponse* resp) override;
  grpc::Status RunJob(grpc::ServerContext* ctx, const v1::RunJobRequest* req,
                      v1::RunJobResponse* resp) override;

 private:
  TaskQueue* queue_;
  Migrator* migrator_;
  Scheduler* scheduler_;
  const Clock* clock_;
  const Authorizer* auth_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_SERVICE_ADMIN_SERVICE_H_
