// The operations listener over real HTTP: Prometheus metrics show queue depth
// and budgets, readiness follows the database (and costs only its check), the
// dashboard page is served.
#include <gmock/gmock.h>
#include <httplib.h>

#include <atomic>

#include "server/ops/ops_http_server.h"
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
  EXPECT_THAT(body, HasSubstr("# TYPE sluice_budget_min_headroom_ratio gauge"));
  EXPECT_THAT(body, HasSubstr("sluice_job_running{job_name=\"daily_esi\"} 0"));

  auto [jstatus, json] = Get("/api/ops");
  ASSERT_EQ(jstatus, 200);
  auto j = nlohmann::json::parse(json);
  EXPECT_TRUE(j["database_ok"].get<bool>());
  EXPECT_FALSE(j["queue"].empty());
}

TEST_F(OpsHttpTest, MetricsKeepEveryKnownKindAtZeroAndCountGrpcCallsByMethodAndCode) {
  v1::EnqueueRequest req;
  req.set_kind("alliance");
  req.add_ids(99000001);
  req.set_priority(v1::PRIORITY_CLASS_MANUAL);
  v1::EnqueueResponse resp;
  ASSERT_TRUE(admin_->Enqueue(Ctx().get(), req, &resp).ok());
  req.set_kind("no_such_kind");
  EXPECT_FALSE(admin_->Enqueue(Ctx().get(), req, &resp).ok());

  auto [status, body] = Get("/metrics");
  ASSERT_EQ(status, 200) << body;
  // A kind nothing was ever queued for has its series, at zero.
  EXPECT_THAT(body, HasSubstr("sluice_queue_tasks{kind=\"universe_type\",state=\"ready\"} 0\n"));
  EXPECT_THAT(body, HasSubstr("sluice_dead_tasks{kind=\"universe_type\"} 0\n"));
  EXPECT_THAT(body, HasSubstr("sluice_alerts_firing{alert=\"checkpoint_drift\"} 0\n"));
  const std::string admin = "grpc_method=\"Enqueue\",grpc_service=\"sluice.v1.AdminService\","
                            "grpc_type=\"unary\"";
  EXPECT_THAT(body, HasSubstr("grpc_server_handled_total{grpc_code=\"OK\"," + admin + "} 1\n"));
  EXPECT_THAT(body,
              HasSubstr("grpc_server_handled_total{grpc_code=\"InvalidArgument\"," + admin + "} 1\n"));
  EXPECT_THAT(body, HasSubstr("grpc_server_handling_seconds_count{" + admin + "} 2\n"));
  EXPECT_THAT(body, HasSubstr("grpc_server_started_total{" + admin + "} 2\n"));
  EXPECT_THAT(body, HasSubstr("# TYPE sluice_claim_duration_seconds histogram"));
  EXPECT_THAT(body, HasSubstr("process_resident_memory_bytes "));
  EXPECT_THAT(body, HasSubstr("sluice_build_info{commit=\""));
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

// A probe every few seconds costs the readiness check alone: never the
// snapshot (queue counts, budgets, job runs, the dashboard's panel queries).
TEST(OpsHttpReadinessTest, ReadyzAsksTheReadinessCheckAndNeverCollectsTheSnapshot) {
  std::atomic<int> collected{0};
  std::atomic<int> checked{0};
  std::atomic<bool> database_up{true};
  OpsHttpServer server(
      [&] {
        ++collected;
        return OpsSnapshot{};
      },
      [&] {
        ++checked;
        OpsHttpServer::Readiness r;
        if (!database_up) {
          r.ready = false;
          r.detail = "database unavailable: connection refused";
        }
        return r;
      });
  auto port = server.Start("127.0.0.1:0");
  ASSERT_TRUE(port.ok()) << port.status();
  httplib::Client http("127.0.0.1", *port);
  auto res = http.Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok\n");
  database_up = false;
  res = http.Get("/readyz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  EXPECT_EQ(res->body, "database unavailable: connection refused\n");
  EXPECT_EQ(checked.load(), 2);
  EXPECT_EQ(collected.load(), 0) << "/readyz collected the ops snapshot";
  // The counter counts: the dashboard's JSON does collect it.
  res = http.Get("/api/ops");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(collected.load(), 1);
  server.Stop();
}

TEST_F(OpsHttpTest, DashboardPageIsServed) {
  auto [status, body] = Get("/");
  ASSERT_EQ(status, 200);
  EXPECT_THAT(body, HasSubstr("<title>Sluice coordinator</title>"));
  EXPECT_THAT(body, HasSubstr("api/ops"));
  EXPECT_EQ(Get("/nope").first, 404);
  // Its script and the Tailwind-compiled stylesheet come from the binary too.
  auto script = http_->Get("/dashboard.js");
  ASSERT_TRUE(script);
  EXPECT_EQ(script->status, 200);
  EXPECT_THAT(script->get_header_value("Content-Type"), HasSubstr("text/javascript"));
  EXPECT_THAT(script->body, HasSubstr("api/ops/history"));
  auto css = http_->Get("/dashboard.css");
  ASSERT_TRUE(css);
  EXPECT_EQ(css->status, 200);
  EXPECT_THAT(css->get_header_value("Content-Type"), HasSubstr("text/css"));
  EXPECT_THAT(css->body, HasSubstr("tailwindcss v4"));
}

TEST_F(OpsHttpTest, ApiOpsCarriesTheDashboardsPanels) {
  auto [status, body] = Get("/api/ops");
  ASSERT_EQ(status, 200);
  auto j = nlohmann::json::parse(body);
  EXPECT_TRUE(j["alerts"]["firing"].is_array());
  EXPECT_TRUE(j["alerts"]["recent"].is_array());
  EXPECT_TRUE(j["gold"]["currency"].is_array());
  EXPECT_TRUE(j["gold"]["valuations"].is_array());
  EXPECT_TRUE(j["streams"].is_array());
  EXPECT_TRUE(j["runs"].is_array());
  EXPECT_FALSE(j.contains("panels_error")) << j["panels_error"];
}

TEST_F(OpsHttpTest, HistoryAnswersOnlyTheSamplesAfterSince) {
  // The sampler takes its first sample when the listener starts.
  nlohmann::json all;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    auto [status, body] = Get("/api/ops/history");
    ASSERT_EQ(status, 200) << body;
    all = nlohmann::json::parse(body);
  } while (all["t"].empty() && std::chrono::steady_clock::now() < until);
  ASSERT_FALSE(all["t"].empty());
  EXPECT_EQ(all["capacity"].get<int>(), 8640);
  EXPECT_FALSE(all["series"].empty());
  const double last = all["t"].back().get<double>();
  auto [status, body] = Get("/api/ops/history?since=" + std::to_string(last));
  ASSERT_EQ(status, 200);
  EXPECT_TRUE(nlohmann::json::parse(body)["t"].empty()) << body;
  EXPECT_EQ(Get("/api/ops/history?since=yesterday").first, 400);
}

}  // namespace
}  // namespace sluice::testing
