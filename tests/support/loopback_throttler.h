// LoopbackThrottler is a real Throttler behind a real ThrottleServiceImpl on a
// loopback gRPC port: what the service's tests and its clients' tests (the
// local-decision client, batches, streams) call, without a coordinator.
//
// Ownership: owns the throttler, the service and the server; borrows the
// clock, which must outlive it.
// Thread-safety: construct and Shutdown from one thread; the accessors from any.
#ifndef SLUICE_TESTS_SUPPORT_LOOPBACK_THROTTLER_H_
#define SLUICE_TESTS_SUPPORT_LOOPBACK_THROTTLER_H_

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/grpc_security.h"
#include "server/service/throttle_service.h"
#include "server/throttle/throttler.h"

namespace sluice::testing {

class LoopbackThrottler {
 public:
  // `token`: the bearer token calls must carry (empty: none).
  LoopbackThrottler(const Clock* clock, throttle::ThrottlerOptions options,
                    const std::string& token = "");
  ~LoopbackThrottler();  // Shutdown(5 s)

  // Ends the revocation streams, then the server, which waits for calls
  // until `drain` has passed. Idempotent.
  void Shutdown(std::chrono::milliseconds drain = std::chrono::seconds(5));

  bool ok() const { return server_ != nullptr; }
  throttle::Throttler* throttler() { return throttler_.get(); }
  ThrottleServiceImpl* service() { return service_.get(); }
  // "127.0.0.1:<port>".
  const std::string& target() const { return target_; }
  // A plain channel to target().
  std::shared_ptr<grpc::Channel> NewChannel() const;

 private:
  std::unique_ptr<throttle::Throttler> throttler_;
  std::unique_ptr<Authorizer> authorizer_;
  std::unique_ptr<ThrottleServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string target_;
  bool stopped_ = false;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SUPPORT_LOOPBACK_THROTTLER_H_
