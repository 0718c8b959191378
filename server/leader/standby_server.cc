#include "server/leader/standby_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include "common/coordinator_target.h"

namespace sluice {

const std::vector<std::string>& SluiceHealthServices() {
  static const std::vector<std::string> kServices = {
      "sluice.v1.AgentService", "sluice.v1.AdminService", "sluice.v1.ThrottlerService"};
  return kServices;
}

grpc::ServerGenericBidiReactor* StandbyServer::RefuseAll::CreateReactor(
    grpc::GenericCallbackServerContext* ctx) {
  class Reactor : public grpc::ServerGenericBidiReactor {
   public:
    explicit Reactor(const std::string& method) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "this coordinator is a standby and does not serve " + method +
                              "; retry: the leader serves it"));
    }
    void OnDone() override { delete this; }
  };
  return new Reactor(ctx->method());
}

StandbyServer::StandbyServer(std::string listen,
                             std::shared_ptr<grpc::ServerCredentials> credentials)
    : listen_(std::move(listen)), credentials_(std::move(credentials)) {}

StandbyServer::~StandbyServer() { Stop(); }

absl::StatusOr<int> StandbyServer::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen_, credentials_, &port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterCallbackGenericService(&refuse_);
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    server_.reset();
    return absl::UnavailableError("standby: cannot listen on " + listen_);
  }
  auto* health = server_->GetHealthCheckService();
  health->SetServingStatus(true);
  health->SetServingStatus(kLeaderHealthService, false);
  for (const std::string& service : SluiceHealthServices()) {
    health->SetServingStatus(service, false);
  }
  return port;
}

void StandbyServer::Stop() {
  if (!server_) return;
  server_->GetHealthCheckService()->Shutdown();
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  server_.reset();
}

}  // namespace sluice
