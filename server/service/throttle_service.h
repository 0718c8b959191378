// ThrottleServiceImpl puts the coordinator's Throttler on the wire as
// sluice.v1.ThrottlerService. It only translates: every method checks the
// bearer token first (Authorizer), validates arguments (INVALID_ARGUMENT
// naming the field, e.g. "route.upstream must be 'esi' or 'poe'"), converts
// wire <-> domain and maps domain errors with ToGrpcStatus. No throttling
// decision is made here.
//
// It is a callback-API service (grpc::CallbackService): a unary call is
// answered on the gRPC thread that read it, with no handoff to a handler
// thread, and an open stream holds no thread at all.
//
// Batches (NextPermittedBatch, AcquireBatch; at most kMaxBatchItems items)
// answer each item on its own: a bad item fails only its own answer. Decide
// is a bidirectional stream answering each request in order (DecideStream);
// it reads ahead while at most kMaxDecideBacklog answers wait to be written,
// then stops reading until the client reads.
//
// WatchRevocations: each stream (RevocationStream) has its own bounded queue
// fed by one revocation listener registered on the Throttler. On connect the
// stream sends its initial metadata at once (so a client can wait for the
// stream to be established before leasing) and then one Revocation per
// budget restricted at that moment. A stream ends at once when the client
// cancels, when Shutdown() is called (UNAVAILABLE), or when the client reads
// too slowly for its queue (RESOURCE_EXHAUSTED); agents must treat any end
// of the stream as "all my leases are revoked".
//
// Ownership: borrows the Throttler and Authorizer (must outlive it).
// Thread-safety: gRPC calls the methods concurrently; Shutdown() from any
// thread. Call Shutdown() before grpc::Server::Shutdown() (it ends the open
// streams, UNAVAILABLE), or the server waits for them until its deadline.
#ifndef SLUICE_SERVER_SERVICE_THROTTLE_SERVICE_H_
#define SLUICE_SERVER_SERVICE_THROTTLE_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/grpc_security.h"
#include "server/throttle/throttler.h"
#include "sluice/v1/throttle.grpc.pb.h"

namespace sluice {

class ThrottleServiceImpl final : public sluice::v1::ThrottlerService::CallbackService {
 public:
  // Revocations a slow watcher may have queued before its stream is ended.
  static constexpr size_t kMaxQueuedRevocations = 1024;
  // Items of one NextPermittedBatch/AcquireBatch (also inside Decide).
  static constexpr int kMaxBatchItems = 1000;
  // Answers of one Decide stream waiting to be written before it stops
  // reading requests.
  static constexpr size_t kMaxDecideBacklog = 256;

  ThrottleServiceImpl(throttle::Throttler* throttler, const Authorizer* authorizer);
  ~ThrottleServiceImpl() override;

  // Also given the observations of every ReportBatch the throttler took
  // (the coordinator's upstream latency metrics). Set before serving.
  using ReportListener = std::function<void(const std::vector<throttle::Observation>&)>;
  void SetReportListener(ReportListener listener) { report_listener_ = std::move(listener); }

  // Ends every open stream (UNAVAILABLE) and refuses new ones. Idempotent.
  void Shutdown();
  // Open WatchRevocations streams.
  size_t watchers() const;

  grpc::ServerUnaryReactor* NextPermitted(grpc::CallbackServerContext* context,
                                          const sluice::v1::NextPermittedRequest* request,
                                          sluice::v1::NextPermittedResponse* response) override;
  grpc::ServerUnaryReactor* Acquire(grpc::CallbackServerContext* context,
                                    const sluice::v1::AcquireRequest* request,
                                    sluice::v1::AcquireResponse* response) override;
  grpc::ServerUnaryReactor* Report(grpc::CallbackServerContext* context,
                                   const sluice::v1::ReportRequest* request,
                                   sluice::v1::ReportResponse* response) override;
  grpc::ServerUnaryReactor* ListBudgets(grpc::CallbackServerContext* context,
                                        const sluice::v1::ListBudgetsRequest* request,
                                        sluice::v1::ListBudgetsResponse* response) override;
  grpc::ServerUnaryReactor* ClearRestriction(
      grpc::CallbackServerContext* context, const sluice::v1::ClearRestrictionRequest* request,
      sluice::v1::ClearRestrictionResponse* response) override;
  grpc::ServerUnaryReactor* NextPermittedBatch(
      grpc::CallbackServerContext* context, const sluice::v1::NextPermittedBatchRequest* request,
      sluice::v1::NextPermittedBatchResponse* response) override;
  grpc::ServerUnaryReactor* AcquireBatch(grpc::CallbackServerContext* context,
                                         const sluice::v1::AcquireBatchRequest* request,
                                         sluice::v1::AcquireBatchResponse* response) override;
  grpc::ServerBidiReactor<sluice::v1::DecideRequest, sluice::v1::DecideResponse>* Decide(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* LeaseTokens(grpc::CallbackServerContext* context,
                                        const sluice::v1::LeaseTokensRequest* request,
                                        sluice::v1::LeaseTokensResponse* response) override;
  grpc::ServerUnaryReactor* ArmTokens(grpc::CallbackServerContext* context,
                                      const sluice::v1::ArmTokensRequest* request,
                                      sluice::v1::ArmTokensResponse* response) override;
  grpc::ServerUnaryReactor* ReportBatch(grpc::CallbackServerContext* context,
                                        const sluice::v1::ReportBatchRequest* request,
                                        sluice::v1::ReportBatchResponse* response) override;
  grpc::ServerWriteReactor<sluice::v1::Revocation>* WatchRevocations(
      grpc::CallbackServerContext* context,
      const sluice::v1::WatchRevocationsRequest* request) override;

 private:
  class Stream;
  class RevocationStream;
  class DecideStream;

  void OnRevocation(const throttle::RevocationEvent& event);
  // False (and the stream is not added) after Shutdown().
  // `watcher` is the stream again when it is a RevocationStream.
  bool AddStream(Stream* stream, RevocationStream* watcher);
  void RemoveStream(Stream* stream, RevocationStream* watcher);

  throttle::Throttler* const throttler_;
  const Authorizer* const authorizer_;
  ReportListener report_listener_;
  int listener_id_ = 0;

  mutable std::mutex mu_;
  std::set<RevocationStream*> watchers_;  // guarded by mu_
  std::set<Stream*> streams_;             // guarded by mu_: every open stream
  bool shutdown_ = false;                 // guarded by mu_
};

}  // namespace sluice

#endif  // SLUICE_SERVER_SERVICE_THROTTLE_SERVICE_H_
