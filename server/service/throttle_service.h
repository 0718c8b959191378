// ThrottleServiceImpl puts the coordinator's Throttler on the wire as
// sluice.v1.ThrottlerService. It only translates: every method checks the
// bearer token first (Authorizer), validates arguments (INVALID_ARGUMENT
// naming the field, e.g. "route.upstream must be 'esi' or 'poe'"), converts
// wire <-> domain and maps domain errors with ToGrpcStatus. No throttling
// decision is made here.
//
// WatchRevocations: each stream has its own bounded queue fed by one
// revocation listener registered on the Throttler. On connect the stream
// sends its initial metadata at once (so a client can wait for the stream to
// be established before leasing) and then one Revocation per budget
// restricted at that moment. A stream ends promptly when the client cancels
// (checked every 100 ms), when Shutdown() is called (UNAVAILABLE), or when
// the client reads too slowly for its queue (RESOURCE_EXHAUSTED); agents must
// treat any end of the stream as "all my leases are revoked".
//
// Ownership: borrows the Throttler and Authorizer (must outlive it).
// Thread-safety: gRPC calls the methods concurrently; Shutdown() from any
// thread. Call Shutdown() before grpc::Server::Shutdown(), or the server
// waits for the open streams until its deadline.
#ifndef SLUICE_SERVER_SERVICE_THROTTLE_SERVICE_H_
#define SLUICE_SERVER_SERVICE_THROTTLE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>

#include "common/grpc_security.h"
#include "server/throttle/throttler.h"
#include "sluice/v1/throttle.grpc.pb.h"

namespace sluice {

class ThrottleServiceImpl final : public sluice::v1::ThrottlerService::Service {
 public:
  // Revocations a slow watcher may have queued before its stream is ended.
  static constexpr size_t kMaxQueuedRevocations = 1024;

  ThrottleServiceImpl(throttle::Throttler* throttler, const Authorizer* authorizer);
  ~ThrottleServiceImpl() override;

  // Ends every WatchRevocations stream (and refuses new ones). Idempotent.
  void Shutdown();
  // Open WatchRevocations streams.
  size_t watchers() const;

  grpc::Status NextPermitted(grpc::ServerContext* context,
                             const sluice::v1::NextPermittedRequest* request,
                             sluice::v1::NextPermittedResponse* response) override;
  grpc::Status Acquire(grpc::ServerContext* context, const sluice::v1::AcquireRequest* request,
                       sluice::v1::AcquireResponse* response) override;
  grpc::Status Report(grpc::ServerContext* context, const sluice::v1::ReportRequest* request,
                      sluice::v1::ReportResponse* response) override;
  grpc::Status ListBudgets(grpc::ServerContext* context,
                           const sluice::v1::ListBudgetsRequest* request,
                           sluice::v1::ListBudgetsResponse* response) override;
  grpc::Status LeaseTokens(grpc::ServerContext* context,
                           const sluice::v1::LeaseTokensRequest* request,
                           sluice::v1::LeaseTokensResponse* response) override;
  grpc::Status ArmTokens(grpc::ServerContext* context, const sluice::v1::ArmTokensRequest* request,
                         sluice::v1::ArmTokensResponse* response) override;
  grpc::Status ReportBatch(grpc::ServerContext* context,
                           const sluice::v1::ReportBatchRequest* request,
                           sluice::v1::ReportBatchResponse* response) override;
  grpc::Status WatchRevocations(grpc::ServerContext* context,
                                const sluice::v1::WatchRevocationsRequest* request,
                                grpc::ServerWriter<sluice::v1::Revocation>* writer) override;

 private:
  struct Watcher;

  void OnRevocation(const throttle::RevocationEvent& event);

  throttle::Throttler* const throttler_;
  const Authorizer* const authorizer_;
  int listener_id_ = 0;

  mutable std::mutex mu_;
  std::set<std::shared_ptr<Watcher>> watchers_;  // guarded by mu_
  bool shutdown_ = false;                        // guarded by mu_
};

}  // namespace sluice

#endif  // SLUICE_SERVER_SERVICE_THROTTLE_SERVICE_H_
