// Roles over real gRPC: a coordinator on loopback with a credential file of
// an agent, an operator, a team and a team limited to ESI calls every method
// of the role table (common/roles.h) with each credential. A role is refused
// every method it may not call (PERMISSION_DENIED naming the credential, its
// role and the method) and admitted to its own (whatever the empty request
// then earns); an unknown or missing credential is UNAUTHENTICATED; health
// stays open; the limited team is refused another upstream's routes and
// ListBudgets counts each team's decisions under its name. An ops listener
// that requires the operator wants its bearer token everywhere but the probes.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/credentials.h"
#include "common/grpc_security.h"
#include "common/roles.h"
#include "server/coordinator.h"
#include "sluice/v1/throttle.grpc.pb.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

struct Holder {
  std::string name;
  Role role;
  std::string token;
};

const Holder kHolders[] = {{"fleet-agents", Role::kAgent, "agent-token-1"},
                           {"alice", Role::kOperator, "operator-token-1"},
                           {"market-team", Role::kTeam, "team-token-1"}};

class AuthorizationTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(/*ops_require_operator=*/false); }

  void Start(bool ops_require_operator) {
    auth_file_ = absl::StrCat(::testing::TempDir(), "sluice-auth-", getpid(), ".txt");
    std::ofstream out(auth_file_);
    out << "# test credentials\n";
    for (const Holder& h : kHolders) {
      out << h.name << " " << RoleName(h.role) << " " << Sha256Text(h.token) << "\n";
    }
    out << "esi-only team " << Sha256Text("esi-team-token") << " upstreams=esi\n";
    out.close();
    CoordinatorOptions o;
    o.listen = "127.0.0.1:0";
    o.dsn = db_.dsn();
    o.db_pool_size = 4;
    o.scheduler.enabled = false;
    o.auth_file = auth_file_;
    if (ops_require_operator) {
      o.ops_listen = "127.0.0.1:0";
      o.ops_require_operator = true;
    }
    coordinator_ = std::make_unique<Coordinator>(o);
    absl::Status started = coordinator_->Start();
    ASSERT_TRUE(started.ok()) << started;
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", coordinator_->port()),
                                   grpc::InsecureChannelCredentials());
    generic_ = std::make_unique<grpc::GenericStub>(channel_);
  }

  void TearDown() override {
    if (coordinator_) coordinator_->Shutdown(std::chrono::milliseconds(100));
    std::remove(auth_file_.c_str());
  }

  // One call of `method` with an empty request, as `token` (empty: none).
  grpc::Status Call(const std::string& method, const std::string& token) {
    grpc::ClientContext ctx;
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    // Streaming methods an allowed caller opens stay open: a short deadline
    // ends them (anything but PERMISSION_DENIED / UNAUTHENTICATED is "in").
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(1500));
    grpc::ByteBuffer request;
    grpc::Slice empty("");
    request = grpc::ByteBuffer(&empty, 1);
    grpc::ByteBuffer response;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    generic_->UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response,
                        [&](grpc::Status s) {
                          std::lock_guard<std::mutex> lock(mu);
                          status = std::move(s);
                          done = true;
                          cv.notify_one();
                        });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    return status;
  }

  TestDatabase db_;
  std::string auth_file_;
  std::unique_ptr<Coordinator> coordinator_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::GenericStub> generic_;
};

TEST_F(AuthorizationTest, EachRoleIsRefusedTheOtherRolesMethodsAndAdmittedToItsOwn) {
  std::set<std::string> unimplemented;
  int refusals = 0;
  for (const auto& [method, roles] : MethodRoleTable()) {
    for (const Holder& h : kHolders) {
      const grpc::Status s = Call(method, h.token);
      if (s.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
        unimplemented.insert(method);
        continue;
      }
      if (roles.Has(h.role)) {
        EXPECT_NE(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << h.name << " on " << method << ": " << s.error_message();
        EXPECT_NE(s.error_code(), grpc::StatusCode::UNAUTHENTICATED)
            << h.name << " on " << method << ": " << s.error_message();
      } else {
        ++refusals;
        EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << h.name << " on " << method << ": " << s.error_message();
        EXPECT_NE(s.error_message().find("'" + h.name + "'"), std::string::npos)
            << s.error_message();
        EXPECT_NE(s.error_message().find(absl::StrCat("role ", RoleName(h.role))),
                  std::string::npos)
            << s.error_message();
        EXPECT_NE(s.error_message().find(method), std::string::npos) << s.error_message();
      }
    }
  }
  // Every method the protos define is served (the table may name methods of
  // services this coordinator does not register only if they are none).
  EXPECT_TRUE(unimplemented.empty()) << "not served: " << *unimplemented.begin();
  EXPECT_GT(refusals, 30);
}

TEST_F(AuthorizationTest, AnUnknownOrMissingCredentialIsUnauthenticatedEverywhere) {
  for (const auto& [method, roles] : MethodRoleTable()) {
    const grpc::Status wrong = Call(method, "not-a-credential");
    EXPECT_EQ(wrong.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
    const grpc::Status digest = Call(method, Sha256Text("operator-token-1"));
    EXPECT_EQ(digest.error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << method << ": the file's digest is no credential";
    const grpc::Status none = Call(method, "");
    EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
  }
}

TEST_F(AuthorizationTest, HealthNeedsNoCredential) {
  const grpc::Status s = Call("/grpc.health.v1.Health/Check", "");
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(AuthorizationTest, ATeamLimitedToEsiIsRefusedPoeAndItsDecisionsAreCountedUnderItsName) {
  auto stub = v1::ThrottlerService::NewStub(channel_);
  auto next = [&](const std::string& token, const std::string& upstream, const std::string& route) {
    v1::NextPermittedRequest req;
    req.mutable_route()->set_upstream(upstream);
    req.mutable_route()->set_route(route);
    req.set_n(1);
    v1::NextPermittedResponse resp;
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    return stub->NextPermitted(&ctx, req, &resp);
  };
  const grpc::Status esi = next("esi-team-token", "esi", "/characters/{id}/");
  EXPECT_TRUE(esi.ok()) << esi.error_message();
  const grpc::Status poe = next("esi-team-token", "poe", "/public-stash-tabs");
  EXPECT_EQ(poe.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(poe.error_message().find("'esi-only'"), std::string::npos) << poe.error_message();
  EXPECT_NE(poe.error_message().find("upstreams esi"), std::string::npos) << poe.error_message();
  // An unlimited team may ask about either.
  EXPECT_TRUE(next("team-token-1", "poe", "/public-stash-tabs").ok());
  EXPECT_TRUE(next("team-token-1", "poe", "/public-stash-tabs").ok());

  v1::ListBudgetsResponse budgets;
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer operator-token-1");
  ASSERT_TRUE(stub->ListBudgets(&ctx, v1::ListBudgetsRequest(), &budgets).ok());
  std::map<std::string, v1::CallerUsage> usage;
  for (const v1::CallerUsage& u : budgets.callers()) usage[u.name()] = u;
  ASSERT_EQ(usage.count("esi-only"), 1u);
  EXPECT_EQ(usage["esi-only"].next_permitted(), 1);
  EXPECT_EQ(usage["esi-only"].denied(), 1);
  ASSERT_EQ(usage.count("market-team"), 1u);
  EXPECT_EQ(usage["market-team"].next_permitted(), 2);
  EXPECT_EQ(usage.count("alice"), 0u) << "ListBudgets itself is not a decision";
}

class OpsAuthorizationTest : public AuthorizationTest {
 protected:
  void SetUp() override { Start(/*ops_require_operator=*/true); }

  int Get(const std::string& path, const std::string& token) {
    httplib::Client http("127.0.0.1", coordinator_->ops_port());
    http.set_read_timeout(10, 0);
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    auto res = http.Get(path.c_str(), headers);
    return res ? res->status : 0;
  }
};

TEST_F(OpsAuthorizationTest, OnlyAnOperatorSeesThePagesButTheProbesAreOpen) {
  ASSERT_GT(coordinator_->ops_port(), 0);
  for (const char* path : {"/metrics", "/api/ops", "/"}) {
    EXPECT_EQ(Get(path, ""), 401) << path;
    EXPECT_EQ(Get(path, "agent-token-1"), 401) << path;
    EXPECT_EQ(Get(path, "team-token-1"), 401) << path;
    EXPECT_EQ(Get(path, "operator-token-1"), 200) << path;
  }
  EXPECT_EQ(Get("/healthz", ""), 200);
  EXPECT_EQ(Get("/readyz", ""), 200);
}

}  // namespace
}  // namespace sluice::testing
