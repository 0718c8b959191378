// A forged restriction from another team cannot hold a budget, end to end: a
// coordinator with credentials (an agent, a team, an operator) over loopback
// gRPC and PostgreSQL. The team's Report{429, Retry-After: 1000000000} is
// capped (to --throttle_external_restriction_cap here, the upstream having
// announced longer through an agent), named after the team's credential,
// listed so, still capped after a restart, and `sluicectl throttle clear`
// (a real process with the operator's credential) lifts it; the team's
// credential may not.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/credentials.h"
#include "common/time_util.h"
#include "gtest/gtest.h"
#include "server/coordinator.h"
#include "sluice/v1/throttle.grpc.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/ports.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr char kAgentToken[] = "agent-secret-1";
constexpr char kTeamToken[] = "team-secret-1";
constexpr char kOperatorToken[] = "operator-secret-1";
constexpr char kBudget[] = "esi/group/character/char:7";

v1::Observation Throttled(const std::string& retry_after) {
  v1::Observation o;
  o.mutable_route()->set_upstream("esi");
  o.mutable_route()->set_route("/characters/{id}/");
  o.mutable_route()->set_egress("10.0.0.1");
  o.mutable_route()->set_caller("char:7");
  o.set_status(429);
  auto add = [&](const char* name, const std::string& value) {
    v1::Header* h = o.add_headers();
    h->set_name(name);
    h->set_value(value);
  };
  add("X-Ratelimit-Group", "character");
  add("X-Ratelimit-Limit", "600/1m");
  add("Retry-After", retry_after);
  return o;
}

// An answer of the "slow" group (a 15-minute window) for char:8: a 429 with
// `retry_after`, or a 200 showing `remaining` tokens left.
v1::Observation Slow(int status, const std::string& retry_after, int remaining) {
  v1::Observation o;
  o.mutable_route()->set_upstream("esi");
  o.mutable_route()->set_route("/characters/{id}/slow/");
  o.mutable_route()->set_egress("10.0.0.1");
  o.mutable_route()->set_caller("char:8");
  o.set_status(status);
  auto add = [&](const char* name, const std::string& value) {
    v1::Header* h = o.add_headers();
    h->set_name(name);
    h->set_value(value);
  };
  add("X-Ratelimit-Group", "slow");
  add("X-Ratelimit-Limit", "600/15m");
  if (!retry_after.empty()) add("Retry-After", retry_after);
  if (remaining >= 0) add("X-Ratelimit-Remaining", std::to_string(remaining));
  return o;
}

class ExternalReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auth_file_ = absl::StrCat(::testing::TempDir(), "sluice-auth-", getpid());
    std::ofstream f(auth_file_);
    f << "agent-1 agent " << Sha256Text(kAgentToken) << "\n"
      << "other-team team " << Sha256Text(kTeamToken) << "\n"
      << "alice operator " << Sha256Text(kOperatorToken) << "\n";
  }
  void TearDown() override { unlink(auth_file_.c_str()); }

  std::unique_ptr<Coordinator> StartCoordinator() {
    CoordinatorOptions co;
    co.listen = absl::StrCat("127.0.0.1:", port_);
    co.dsn = db_.dsn();
    co.auth_file = auth_file_;
    co.scheduler.enabled = false;
    co.throttle.external_restriction_cap = minutes(5);
    auto c = std::make_unique<Coordinator>(co);
    absl::Status s = c->Start();
    EXPECT_TRUE(s.ok()) << s;
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port_), grpc::InsecureChannelCredentials());
    stub_ = v1::ThrottlerService::NewStub(channel_);
    return c;
  }
  void As(grpc::ClientContext* ctx, const char* token) {
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  }
  // What an agent reports under its leases (trusted: the upstream's word).
  void AgentReports(const v1::Observation& observation) {
    grpc::ClientContext ctx;
    As(&ctx, kAgentToken);
    v1::ReportBatchRequest req;
    req.set_agent_id("agent-1");
    *req.add_observations() = observation;
    v1::ReportBatchResponse resp;
    ASSERT_TRUE(stub_->ReportBatch(&ctx, req, &resp).ok());
  }
  // What another team reports through the unary Report (capped).
  void TeamReports(const v1::Observation& observation) {
    grpc::ClientContext ctx;
    As(&ctx, kTeamToken);
    v1::ReportRequest req;
    *req.mutable_observation() = observation;
    v1::ReportResponse resp;
    grpc::Status s = stub_->Report(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  grpc::StatusCode Clear(const std::string& budget, const char* token) {
    grpc::ClientContext ctx;
    As(&ctx, token);
    v1::ClearRestrictionRequest req;
    req.set_budget(budget);
    v1::ClearRestrictionResponse resp;
    return stub_->ClearRestriction(&ctx, req, &resp).error_code();
  }
  v1::Budget Budget(const std::string& name = kBudget) {
    grpc::ClientContext ctx;
    As(&ctx, kOperatorToken);
    v1::ListBudgetsRequest req;
    req.set_match(name);
    v1::ListBudgetsResponse resp;
    grpc::Status s = stub_->ListBudgets(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    for (const v1::Budget& b : resp.budgets()) {
      if (b.name() == name) return b;
    }
    ADD_FAILURE() << "no budget " << name;
    return {};
  }
  Duration RestrictedFor(const v1::Budget& b) {
    return FromProto(b.restricted_until()) - SystemClock::Get()->Now();
  }
  std::unique_ptr<ChildProcess> Sluicectl(const std::vector<std::string>& args, const char* token,
                                          const std::string& name) {
    std::vector<std::string> argv = {SLUICECTL_BINARY,
                                     absl::StrCat("--coordinator=127.0.0.1:", port_), "--wait_s=5"};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<ChildProcess>(
        argv, std::vector<std::string>{absl::StrCat("SLUICE_AUTH_TOKEN=", token)},
        absl::StrCat(::testing::TempDir(), "sluicectl-", getpid(), "-", name, ".log"));
  }

  TestDatabase db_;
  std::string auth_file_;
  const int port_ = UnusedLoopbackPort();
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ThrottlerService::Stub> stub_;
};

TEST_F(ExternalReportTest, AForgedRestrictionIsCappedAttributedSurvivesARestartAndIsCleared) {
  auto coordinator = StartCoordinator();
  // The upstream itself announces an hour through an agent: the cap (5 min
  // here) is then what binds another team's report.
  AgentReports(Throttled("3600"));
  v1::Budget b = Budget();
  EXPECT_GT(RestrictedFor(b), minutes(59));
  EXPECT_EQ(b.restricted_by(), "");

  // The operator lifts it with sluicectl.
  auto clear = Sluicectl({"throttle", "clear", kBudget}, kOperatorToken, "clear1");
  ASSERT_EQ(clear->Wait(seconds(20)), 0) << clear->Log();
  EXPECT_NE(clear->Log().find("lifted"), std::string::npos) << clear->Log();
  b = Budget();
  EXPECT_LE(RestrictedFor(b), Duration::zero());
  EXPECT_EQ(b.restriction_cleared_by(), "alice");

  // Another team forges a restriction of 31 years.
  TeamReports(Throttled("1000000000"));
  b = Budget();
  EXPECT_GT(RestrictedFor(b), minutes(4));
  EXPECT_LE(RestrictedFor(b), minutes(5));
  EXPECT_TRUE(b.restriction_capped());
  EXPECT_EQ(b.restricted_by(), "other-team");
  const auto until = b.restricted_until();

  // sluicectl throttle shows who and that it was capped.
  auto list = Sluicectl({"throttle", "esi/group/character"}, kOperatorToken, "list");
  ASSERT_EQ(list->Wait(seconds(20)), 0) << list->Log();
  EXPECT_NE(list->Log().find("by other-team, capped"), std::string::npos) << list->Log();

  // The team may not clear it.
  EXPECT_EQ(Clear(kBudget, kTeamToken), grpc::StatusCode::PERMISSION_DENIED);

  // A restart keeps it as it was: capped, attributed, the same end.
  coordinator->Shutdown(seconds(1));
  coordinator.reset();
  coordinator = StartCoordinator();
  b = Budget();
  EXPECT_TRUE(b.restriction_capped());
  EXPECT_EQ(b.restricted_by(), "other-team");
  // Stored to the microsecond, rounded up: never earlier.
  const Duration moved = FromProto(b.restricted_until()) - FromProto(until);
  EXPECT_GE(moved, Duration::zero());
  EXPECT_LE(moved, std::chrono::microseconds(1));

  auto clear2 = Sluicectl({"throttle", "clear", kBudget}, kOperatorToken, "clear2");
  ASSERT_EQ(clear2->Wait(seconds(20)), 0) << clear2->Log();
  EXPECT_NE(clear2->Log().find("set by other-team"), std::string::npos) << clear2->Log();
  b = Budget();
  EXPECT_LE(RestrictedFor(b), Duration::zero());
  EXPECT_EQ(b.restriction_cleared_by(), "alice");

  auto unknown = Sluicectl({"throttle", "clear", "esi/group/none/char:1"}, kOperatorToken, "nf");
  EXPECT_EQ(unknown->Wait(seconds(20)), 1) << unknown->Log();
  EXPECT_NE(unknown->Log().find("NOT_FOUND"), std::string::npos) << unknown->Log();
  coordinator->Shutdown(seconds(1));
}

// Headers alone (no 429) in another team's Report: X-Ratelimit-Remaining: 0
// would empty the budget for its whole 15-minute window. It is capped (5 min
// here), named after the team, listed by sluicectl, and `sluicectl throttle
// clear` lifts it.
TEST_F(ExternalReportTest, ForgedHeadersAreCappedAttributedListedAndCleared) {
  auto coordinator = StartCoordinator();
  const std::string budget = "esi/group/slow/char:8";
  // An agent's answers teach the group and announce an hour; cleared.
  AgentReports(Slow(429, "3600", -1));
  ASSERT_EQ(Clear(budget, kOperatorToken), grpc::StatusCode::OK);
  v1::Budget b = Budget(budget);
  ASSERT_FALSE(b.windows().empty());
  const int64_t room = b.windows(0).remaining();
  ASSERT_GT(room, 500);
  EXPECT_EQ(b.tightened_by(), "");

  TeamReports(Slow(200, "", 0));
  b = Budget(budget);
  EXPECT_EQ(b.windows(0).remaining(), 0);
  EXPECT_EQ(b.tightened_by(), "other-team");
  const Duration held = FromProto(b.tightened_until()) - SystemClock::Get()->Now();
  EXPECT_GT(held, minutes(4));
  EXPECT_LE(held, minutes(5));                    // not the window's 15 minutes
  EXPECT_LE(RestrictedFor(b), Duration::zero());  // a tightening, not a restriction

  auto list = Sluicectl({"throttle", budget}, kOperatorToken, "list-tightened");
  ASSERT_EQ(list->Wait(seconds(20)), 0) << list->Log();
  EXPECT_NE(list->Log().find("by other-team"), std::string::npos) << list->Log();
  EXPECT_NE(list->Log().find("tightened"), std::string::npos) << list->Log();

  auto clear = Sluicectl({"throttle", "clear", budget}, kOperatorToken, "clear-tightened");
  ASSERT_EQ(clear->Wait(seconds(20)), 0) << clear->Log();
  EXPECT_NE(clear->Log().find("tightening by other-team"), std::string::npos) << clear->Log();
  b = Budget(budget);
  EXPECT_EQ(b.windows(0).remaining(), room - 2);  // the reported call itself: a 2xx, 2 tokens
  EXPECT_EQ(b.tightened_by(), "");

  // The same header from an agent is the upstream's word: a clear keeps it.
  AgentReports(Slow(200, "", 0));
  auto clear2 = Sluicectl({"throttle", "clear", budget}, kOperatorToken, "clear-agent");
  ASSERT_EQ(clear2->Wait(seconds(20)), 0) << clear2->Log();
  EXPECT_EQ(Budget(budget).windows(0).remaining(), 0);
  coordinator->Shutdown(seconds(1));
}

}  // namespace
}  // namespace sluice::testing
