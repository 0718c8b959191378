// An in-process coordinator on a throwaway database, reached over real gRPC
// on loopback.
#ifndef SLUICE_TESTS_SERVER_SERVICE_COORDINATOR_FIXTURE_H_
#define SLUICE_TESTS_SERVER_SERVICE_COORDINATOR_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>

#include "common/grpc_security.h"
#include "server/coordinator.h"
#include "sluice/v1/admin.grpc.pb.h"
#include "sluice/v1/agent.grpc.pb.h"
#include "tests/support/tcp_proxy.h"
#include "tests/support/test_database.h"

namespace sluice::testing {

class CoordinatorFixture : public ::testing::Test {
 protected:
  void StartCoordinator(const std::string& auth_token = "") {
    auto [host, port] = DsnHostPort(db_.dsn());
    proxy_ = std::make_unique<TcpProxy>(host, port);
    CoordinatorOptions o;
    o.listen = "127.0.0.1:0";
    o.dsn = DsnWithHostPort(db_.dsn(), "127.0.0.1", proxy_->port());
    o.auth_token = auth_token;
    o.db_pool_size = 4;
    o.health_interval = std::chrono::milliseconds(100);
    o.scheduler.enabled = false;  // jobs run only when a test asks
    o.ops_listen = ops_listen_;
    coordinator_ = std::make_unique<Coordinator>(o);
    ASSERT_TRUE(coordinator_->Start().ok());
    client_.target = "127.0.0.1:" + std::to_string(coordinator_->port());
    client_.auth_token = auth_token;
    channel_ = MakeChannel(client_);
    agent_ = v1::AgentService::NewStub(channel_);
    admin_ = v1::AdminService::NewStub(channel_);
  }

  void TearDown() override {
    if (coordinator_) coordinator_->Shutdown(std::chrono::milliseconds(100));
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto c = std::make_unique<grpc::ClientContext>();
    PrepareContext(c.get(), client_, std::chrono::seconds(10));
    return c;
  }

  TestDatabase db_;
  std::string ops_listen_;  // set before StartCoordinator to open /metrics
  std::unique_ptr<TcpProxy> proxy_;
  std::unique_ptr<Coordinator> coordinator_;
  ClientOptions client_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AgentService::Stub> agent_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SERVER_SERVICE_COORDINATOR_FIXTURE_H_
