// No budget amnesia (seed 000), through the whole coordinator: a restriction
// and a learned limit survive a restart, via system_state in PostgreSQL.
#include "common/time_util.h"
#include "server/throttle/throttler.h"
#include "sluice/v1/throttle.grpc.pb.h"
#include "tests/server/service/coordinator_fixture.h"

namespace sluice::testing {
namespace {

class ThrottleRestartTest : public CoordinatorFixture {
 protected:
  void SetUp() override { StartCoordinator(); }

  void Restart() {
    coordinator_->Shutdown(std::chrono::milliseconds(200));
    coordinator_.reset();
    CoordinatorOptions o;
    o.listen = "127.0.0.1:0";
    o.dsn = db_.dsn();
    o.db_pool_size = 4;
    o.scheduler.enabled = false;  // jobs run only when a test asks
    coordinator_ = std::make_unique<Coordinator>(o);
    ASSERT_TRUE(coordinator_->Start().ok());
    client_.target = "127.0.0.1:" + std::to_string(coordinator_->port());
    channel_ = MakeChannel(client_);
  }

  std::unique_ptr<v1::ThrottlerService::Stub> Throttle() {
    return v1::ThrottlerService::NewStub(channel_);
  }

  v1::RouteRef Route() {
    v1::RouteRef r;
    r.set_upstream("esi");
    r.set_route("/characters/{id}/");
    return r;
  }

  // Reported as an agent's answer is (trusted): another caller's unary
  // Report restricts a budget only within the external cap, which a budget no
  // agent saw restricted keeps at the base backoff (external_report_test).
  void Report(int status, throttle::HeaderList headers) {
    throttle::Observation o;
    o.key.upstream = throttle::Upstream::kEsi;
    o.key.route = Route().route();
    o.status = status;
    o.headers = std::move(headers);
    o.response_age = std::chrono::milliseconds(0);
    absl::Status s = coordinator_->throttler()->Report(o, throttle::ReportOrigin{});
    ASSERT_TRUE(s.ok()) << s;
  }

  double WaitSeconds() {
    v1::NextPermittedRequest req;
    *req.mutable_route() = Route();
    req.set_n(1);
    v1::NextPermittedResponse resp;
    auto s = Throttle()->NextPermitted(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return std::chrono::duration<double>(FromProtoDuration(resp.wait())).count();
  }
};

TEST_F(ThrottleRestartTest, RestrictionAndLearnedLimitSurviveARestart) {
  Report(200, {{"X-Ratelimit-Group", "char-detail"},
               {"X-Ratelimit-Limit", "600/15m"},
               {"X-Ratelimit-Remaining", "598"},
               {"X-Ratelimit-Used", "2"}});
  Report(429, {{"X-Ratelimit-Group", "char-detail"},
               {"X-Ratelimit-Limit", "600/15m"},
               {"X-Ratelimit-Remaining", "0"},
               {"Retry-After", "600"}});
  const double before = WaitSeconds();
  EXPECT_GT(before, 590) << "a 429 with Retry-After 600 must block the route";

  Restart();
  const double after = WaitSeconds();
  EXPECT_GT(after, 580) << "the restriction was forgotten across the restart";
  EXPECT_LE(after, before);
  // One row per budget (the group's and the address's error limit), the
  // route map and the meta row.
  EXPECT_EQ(db_.Count("SELECT count(*) FROM system_state WHERE key LIKE 'throttle/v2/%'"), 4);

  v1::ListBudgetsResponse budgets;
  ASSERT_TRUE(Throttle()->ListBudgets(Ctx().get(), v1::ListBudgetsRequest(), &budgets).ok());
  bool found = false;
  for (const auto& b : budgets.budgets()) {
    if (b.name() != "esi/group/char-detail/ip:unknown") continue;
    found = true;
    EXPECT_TRUE(b.learned());
    ASSERT_FALSE(b.windows().empty());
    EXPECT_EQ(b.windows(0).limit(), 600);
    EXPECT_EQ(FromProtoDuration(b.windows(0).period()), std::chrono::minutes(15));
  }
  EXPECT_TRUE(found) << "the learned group budget was forgotten across the restart";
}

}  // namespace
}  // namespace sluice::testing
