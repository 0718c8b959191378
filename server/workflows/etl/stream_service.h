// StreamServiceImpl translates sluice.v1.StreamService (sluicectl
// checkpoints / ingest / alerts, grpcurl) to IngestStatusReader, AlertRules
// and AlertStore calls. Current alerts are evaluated at the moment of the
// call; history comes from alert_events (written by the module's loop).
//
// Ownership: borrows everything. Thread-safety: no mutable state of its own.
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_STREAM_SERVICE_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_STREAM_SERVICE_H_

#include "common/grpc_security.h"
#include "server/workflows/etl/alert_rules.h"
#include "server/workflows/etl/alert_store.h"
#include "server/workflows/etl/ingest_status.h"
#include "sluice/v1/streams.grpc.pb.h"

namespace sluice {

class StreamServiceImpl final : public v1::StreamService::Service {
 public:
  StreamServiceImpl(etl::IngestStatusReader* status, const etl::AlertRules* rules,
                    const etl::AlertStore* alerts, const Authorizer* auth)
      : status_(status), rules_(rules), alerts_(alerts), auth_(auth) {}

  grpc::Status ListCheckpoints(grpc::ServerContext* ctx, const v1::ListCheckpointsRequest* req,
                               v1::ListCheckpointsResponse* resp) override;
  grpc::Status GetIngestStatus(grpc::ServerContext* ctx, const v1::GetIngestStatusRequest* req,
                               v1::GetIngestStatusResponse* resp) override;
  grpc::Status ListAlerts(grpc::ServerContext* ctx, const v1::ListAlertsRequest* req,
                          v1::ListAlertsResponse* resp) override;

 private:
  etl::IngestStatusReader* status_;
  const etl::AlertRules* rules_;
  const etl::AlertStore* alerts_;
  const Authorizer* auth_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_STREAM_SERVICE_H_
