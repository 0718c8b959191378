// The operations listener over real HTTP: Prometheus metrics show queue depth
// and budgets, readiness follows the database, the dashboard page is served.
#include <gmock/gmock.h>
#include <httplib.h>

#include "tests/server/service/coordinator_fixture.h"

namespace sluice::testing {
namespace {

using ::testing::HasSubstr;

class OpsHttpTest : public CoordinatorFixture {
 protected:
  void SetUp() override {
    ops_listen_ = "127.0.0.1:0";
    StartCoordinator();
    ASSERT_GT(coordinator_->ops_port(), 0);
    http_ = std::make_unique<httplib::Client>("127.0.0.1", coordinator_->ops_port());
    http_->set_read_timeout(10, 0);
  }

  std::pair<int, std::string> Get(const std::string& path) {
    auto res = http_->Get(path.c_str());
    if (!res) return {0, "no answer"};
    return {res->status, res->body};
  }

  std::unique_ptr<httplib::Client> http_;
};

TEST_F(OpsHttpTest, MetricsShowQueueDepthByKindAndState) {
  v1::EnqueueRequest req;
  req.set_kind("alliance");
  for (int64_t id : {99000001, 99000002, 99000003}) req.add_ids(id);
  req.set_priority(v1::PRIORITY_CLASS_MANUAL);
  v1::EnqueueResponse resp;
  ASSERT_TRUE(admin_->Enqueue(Ctx().get(), req, &resp).ok());

  auto [status, body] = Get("/metrics");
  ASSERT_EQ(status, 200) << body;
  EXPECT_THAT(body, HasSubstr("sluice_database_up 1"));
  EXPECT_THAT(body, HasSubstr("sluice_queue_tasks{kind=\"alliance\",state=\"ready\"} 3"));
  EXPECT_THAT(body, HasSubstr("# TYPE sluice_budget_remaining gauge"));
  EXPECT_THAT(body, HasSubstr("sluice_job_running{job=\"daily_esi\"} 0"));

  auto [jstatus, json] = Get("/api/ops");
  ASSERT_EQ(jstatus, 200);
  auto j = nlohmann::json::parse(json);
  EXPECT_TRUE(j["database_ok"].get<bool>());
  EXPECT_FALSE(j["queue"].empty());
}

TEST_F(OpsHttpTest, ReadinessFollowsTheDatabase) {
  EXPECT_EQ(Get("/readyz").first, 200);
  proxy_->SetUp(false);
  auto [status, body] = Get("/readyz");
  EXPECT_EQ(status, 503) << body;
  EXPECT_THAT(body, HasSubstr("database unavailable"));
  EXPECT_THAT(Get("/metrics").second, HasSubstr("sluice_database_up 0"));
  // Liveness does not depend on the database: restarting would not help.
  EXPECT_EQ(Get("/healthz").first, 200);
  proxy_->SetUp(true);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  int ready = 0;
  while (std::chrono::steady_clock::now() < until && (ready = Get("/readyz").first) != 200) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(ready, 200);
}

TEST_F(OpsHttpTest, DashboardPageIsServed) {
  auto [status, body] = Get("/");
  ASSERT_EQ(status, 200);
  EXPECT_THAT(body, HasSubstr("<title>Sluice coordinator</title>"));
  EXPECT_THAT(body, HasSubstr("api/ops"));
  EXPECT_EQ(Get("/nope").first, 404);
}

}  // namespace
}  // namespace sluice::testing
