// StandbyServer is what a coordinator that does not lead serves on its gRPC
// port: health, reflection, and UNAVAILABLE for every other method.
//
// Health: the overall service "" is SERVING (this process is up:
// Kubernetes' readiness, so a rolling update can proceed); "sluice.leader" and
// every Sluice service are NOT_SERVING. Clients whose channel health-checks
// "sluice.leader" (common/coordinator_target.h: round_robin with
// healthCheckConfig, what agents and sluicectl do) therefore send only to the
// leader. A client that sends here anyway gets UNAVAILABLE
// naming who leads, which it retries.
//
// Ownership: owns its server. Thread-safety: Start/Stop from one thread.
#ifndef SLUICE_SERVER_LEADER_STANDBY_SERVER_H_
#define SLUICE_SERVER_LEADER_STANDBY_SERVER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace sluice {

class StandbyServer {
 public:
  StandbyServer(std::string listen, std::shared_ptr<grpc::ServerCredentials> credentials);
  ~StandbyServer();

  // The bound port (the listen address's port, or the one picked for 0).
  absl::StatusOr<int> Start();
  void Stop();

 private:
  class RefuseAll : public grpc::CallbackGenericService {
    grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;
  };

  const std::string listen_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  RefuseAll refuse_;
  std::unique_ptr<grpc::Server> server_;
};

// The Sluice services a coordinator registers, by full name: the leader marks
// them SERVING, a standby NOT_SERVING.
const std::vector<std::string>& SluiceHealthServices();

}  // namespace sluice

#endif  // SLUICE_SERVER_LEADER_STANDBY_SERVER_H_
