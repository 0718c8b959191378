// StreamService through a whole in-process coordinator over real gRPC: the
// module's loop records alerts firing and resolving as the (fake) clock
// moves, ingest status reports what the stream tables say, the poe_transform
// job runs the transforms, and bad arguments are refused naming the field.
#include <gmock/gmock.h>

#include <thread>

#include "server/coordinator.h"
#include "sluice/v1/admin.grpc.pb.h"
#include "sluice/v1/streams.grpc.pb.h"
#include "tests/server/workflows/etl/etl_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::minutes;
using ::testing::Contains;
using ::testing::HasSubstr;

constexpr char kToken[] = "etl-test-token";

class StreamServiceTest : public EtlFixture {
 protected:
  void SetUp() override {
    EtlFixture::SetUp();
    CoordinatorOptions o;
    o.listen = "127.0.0.1:0";
    o.dsn = db_.dsn();
    o.db_pool_size = 4;
    o.auth_token = kToken;
    o.clock = &clock_;
    o.health_interval = std::chrono::milliseconds(100);
    o.scheduler.enabled = false;
    o.workflows.etl.loop_enabled = true;
    o.workflows.etl.interval = std::chrono::milliseconds(20);
    coordinator_ = std::make_unique<Coordinator>(o);
    ASSERT_TRUE(coordinator_->Start().ok());
    client_.target = "127.0.0.1:" + std::to_string(coordinator_->port());
    client_.auth_token = kToken;
    auto channel = MakeChannel(client_);
    streams_ = v1::StreamService::NewStub(channel);
    admin_ = v1::AdminService::NewStub(channel);
  }
  void TearDown() override {
    if (coordinator_) coordinator_->Shutdown(std::chrono::milliseconds(100));
  }

  std::unique_ptr<grpc::ClientContext> Ctx() {
    auto c = std::make_unique<grpc::ClientContext>();
    PrepareContext(c.get(), client_, std::chrono::seconds(10));
    return c;
  }

  std::vector<std::string> Firing() {
    v1::ListAlertsRequest req;
    v1::ListAlertsResponse resp;
    auto s = streams_->ListAlerts(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> out;
    for (const auto& a : resp.firing()) out.push_back(a.rule() + "/" + a.stream());
    return out;
  }

  // Waits until the loop has recorded an event `state` for rule/stream.
  bool WaitEvent(const std::string& rule, const std::string& stream, const std::string& state) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < until) {
      v1::ListAlertsRequest req;
      req.set_history_limit(100);
      v1::ListAlertsResponse resp;
      if (streams_->ListAlerts(Ctx().get(), req, &resp).ok()) {
        for (const auto& e : resp.history()) {
          if (e.rule() == rule && e.stream() == stream && e.state() == state) return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  void SetCheckpoint(const std::string& stream, TimePoint updated, TimePoint polled,
                     TimePoint head) {
    db_.Query(
        "INSERT INTO checkpoints (stream, cursor, updated_at, polled_at, head_at, "
        "created_at) VALUES ('" +
        stream + "', '5-5-5', '" + FormatRfc3339(updated) + "', '" + FormatRfc3339(polled) +
        "', '" + FormatRfc3339(head) + "', '" + FormatRfc3339(t0_ - std::chrono::hours(1)) +
        "') ON CONFLICT (stream) DO UPDATE SET "
        "updated_at = EXCLUDED.updated_at, polled_at = EXCLUDED.polled_at, "
        "head_at = EXCLUDED.head_at");
  }

  std::unique_ptr<Coordinator> coordinator_;
  ClientOptions client_;
  std::unique_ptr<v1::StreamService::Stub> streams_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

TEST_F(StreamServiceTest, AlertsFireAndResolveThroughTheLoop) {
  // Cursor still for 3 min after a page with data; five 429s in 2 minutes.
  SetCheckpoint("poe_stash:pc", t0_ - minutes(3), t0_ - minutes(3), t0_ - minutes(4));
  for (int i = 0; i < 5; ++i) {
    db_.Query(
        "INSERT INTO stream_errors (stream, http_status, error, at) VALUES "
        "('poe_stash:pc', 429, 'rate limited', '" +
        FormatRfc3339(t0_ - std::chrono::seconds(20 * i + 1)) + "')");
  }
  EXPECT_THAT(Firing(), Contains("checkpoint_drift/poe_stash:pc"));
  EXPECT_THAT(Firing(), Contains("http_429_storm/poe_stash:pc"));
  ASSERT_TRUE(WaitEvent("checkpoint_drift", "poe_stash:pc", "firing"));
  ASSERT_TRUE(WaitEvent("http_429_storm", "poe_stash:pc", "firing"));

  v1::GetIngestStatusRequest req;
  req.set_stream("poe_stash:pc");
  v1::GetIngestStatusResponse status;
  ASSERT_TRUE(streams_->GetIngestStatus(Ctx().get(), req, &status).ok());
  ASSERT_EQ(status.streams_size(), 1);
  EXPECT_EQ(status.streams(0).kind(), "stash");
  EXPECT_EQ(status.streams(0).http_429_window(), 5);
  EXPECT_EQ(status.streams(0).errors_total(), 5);
  EXPECT_DOUBLE_EQ(status.streams(0).lag_seconds(), 240);
  EXPECT_EQ(db_.Count("SELECT http_429_5m FROM poe_ingest_status WHERE stream = 'poe_stash:pc'"), 5)
      << "the loop keeps the status table";

  // Healthy again: the cursor moved and an empty page confirmed the head;
  // six minutes later the 429s are out of the window.
  clock_.Advance(minutes(6));
  SetCheckpoint("poe_stash:pc", clock_.Now(), clock_.Now(), clock_.Now());
  EXPECT_TRUE(WaitEvent("checkpoint_drift", "poe_stash:pc", "resolved"));
  EXPECT_TRUE(WaitEvent("http_429_storm", "poe_stash:pc", "resolved"));
  EXPECT_THAT(Firing(), ::testing::Not(Contains(HasSubstr("poe_stash:pc"))));
  EXPECT_EQ(db_.Count("SELECT count(*) FROM alert_events WHERE stream = 'poe_stash:pc'"), 4)
      << "one firing and one resolved event per alert, no repeats";
}

TEST_F(StreamServiceTest, CheckpointsAndTransformJob) {
  clock_.Advance(minutes(1));
  AddStash("s1", "Settlers", {Item("i1", "~price 5 chaos"), Item("i2", "")});
  v1::RunJobRequest run;
  run.set_name("poe_transform");
  v1::RunJobResponse started;
  auto s = admin_->RunJob(Ctx().get(), run, &started);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(coordinator_->scheduler()->WaitUntilIdle(std::chrono::seconds(20)));
  EXPECT_EQ(db_.Query("SELECT outcome FROM job_runs WHERE run_id = '" + started.run_id() + "'"),
            "succeeded");
  EXPECT_EQ(db_.Count("SELECT count(*) FROM poe_item_price_silver"), 1);

  v1::ListCheckpointsRequest req;
  req.set_prefix("etl:");
  v1::ListCheckpointsResponse resp;
  ASSERT_TRUE(streams_->ListCheckpoints(Ctx().get(), req, &resp).ok());
  std::vector<std::string> names;
  for (const auto& c : resp.checkpoints()) names.push_back(c.stream());
  // No exchange rows yet: the currency transform has no checkpoint yet.
  ASSERT_THAT(names, ::testing::ElementsAre("etl:poe_stashes"));
  EXPECT_EQ(resp.checkpoints(0).cursor(), db_.Query("SELECT max(raw_id) FROM poe_stash_raw"));
  EXPECT_GE(resp.checkpoints(0).age_seconds(), 0);
}

TEST_F(StreamServiceTest, BadArgumentsAreRefusedNamingTheField) {
  v1::GetIngestStatusRequest status_req;
  v1::GetIngestStatusResponse status;
  status_req.set_stream("poe stash");
  auto s = streams_->GetIngestStatus(Ctx().get(), status_req, &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("stream"));
  status_req.set_stream("poe_stash:nowhere");
  s = streams_->GetIngestStatus(Ctx().get(), status_req, &status);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), HasSubstr("stream"));

  v1::ListAlertsRequest alerts_req;
  v1::ListAlertsResponse alerts;
  alerts_req.set_history_limit(-1);
  s = streams_->ListAlerts(Ctx().get(), alerts_req, &alerts);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("history_limit"));

  v1::ListCheckpointsRequest cp_req;
  v1::ListCheckpointsResponse cps;
  cp_req.set_prefix(std::string(201, 'x'));
  s = streams_->ListCheckpoints(Ctx().get(), cp_req, &cps);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("prefix"));

  // Without the bearer token.
  grpc::ClientContext anon;
  anon.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  s = streams_->ListCheckpoints(&anon, v1::ListCheckpointsRequest(), &cps);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace sluice::testing
