// The coordinator's gRPC surface: bad arguments get INVALID_ARGUMENT naming
// the field, stale leases FAILED_PRECONDITION, a missing token
// UNAUTHENTICATED, and a database outage UNAVAILABLE with recovery.
#include <thread>

#include "common/time_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/server/service/coordinator_fixture.h"

namespace sluice::testing {
namespace {

using grpc::StatusCode;

class AgentServiceTest : public CoordinatorFixture {
 protected:
  void SetUp() override { StartCoordinator(); }

  v1::LeaseTasksRequest ValidLease() {
    v1::LeaseTasksRequest r;
    r.set_agent_id("agent-1");
    r.add_kinds("character");
    r.set_max_tasks(10);
    *r.mutable_lease_duration() = ToProtoDuration(std::chrono::seconds(30));
    return r;
  }

  void ExpectInvalid(const grpc::Status& s, const std::string& field) {
    EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_NE(s.error_message().find(field), std::string::npos)
        << "message '" << s.error_message() << "' does not name " << field;
  }
};

TEST_F(AgentServiceTest, BadLeaseArgumentsNameTheField) {
  v1::LeaseTasksResponse resp;
  auto r = ValidLease();
  r.clear_agent_id();
  ExpectInvalid(agent_->LeaseTasks(Ctx().get(), r, &resp), "agent_id");
  r = ValidLease();
  r.clear_kinds();
  ExpectInvalid(agent_->LeaseTasks(Ctx().get(), r, &resp), "kinds");
  r = ValidLease();
  r.add_kinds("spaceship");
  ExpectInvalid(agent_->LeaseTasks(Ctx().get(), r, &resp), "kinds[1]");
  r = ValidLease();
  r.set_max_tasks(0);
  ExpectInvalid(agent_->LeaseTasks(Ctx().get(), r, &resp), "max_tasks");
  r = ValidLease();
  *r.mutable_lease_duration() = ToProtoDuration(std::chrono::hours(5));
  ExpectInvalid(agent_->LeaseTasks(Ctx().get(), r, &resp), "lease_duration");
  r = ValidLease();
  *r.mutable_wait() = ToProtoDuration(std::chrono::seconds(-1));
  ExpectInvalid(agent_->LeaseTasks(Ctx().get(), r, &resp), "wait");
}

TEST_F(AgentServiceTest, BadOutcomeArgumentsNameTheField) {
  v1::CompleteTaskRequest c;
  v1::CompleteTaskResponse cr;
  ExpectInvalid(agent_->CompleteTask(Ctx().get(), c, &cr), "task_id");
  c.set_task_id(1);
  ExpectInvalid(agent_->CompleteTask(Ctx().get(), c, &cr), "fencing_token");
  v1::FailTaskRequest f;
  v1::FailTaskResponse fr;
  f.set_task_id(1);
  f.set_fencing_token(1);
  f.set_http_status(999);
  ExpectInvalid(agent_->FailTask(Ctx().get(), f, &fr), "http_status");
  v1::ExtendLeaseRequest e;
  v1::ExtendLeaseResponse er;
  ExpectInvalid(agent_->ExtendLease(Ctx().get(), e, &er), "task_id");
  v1::EnqueueRequest q;
  v1::EnqueueResponse qr;
  q.set_kind("character");
  ExpectInvalid(admin_->Enqueue(Ctx().get(), q, &qr), "ids");
}

TEST_F(AgentServiceTest, LeaseCompleteRoundTripAndStaleToken) {
  v1::EnqueueRequest q;
  q.set_kind("character");
  q.add_ids(2112000001);
  v1::EnqueueResponse qr;
  ASSERT_TRUE(admin_->Enqueue(Ctx().get(), q, &qr).ok());
  v1::LeaseTasksResponse leased;
  ASSERT_TRUE(agent_->LeaseTasks(Ctx().get(), ValidLease(), &leased).ok());
  ASSERT_EQ(leased.tasks_size(), 1);
  const auto& t = leased.tasks(0);
  EXPECT_EQ(t.kind(), "character");
  EXPECT_EQ(t.priority(), v1::PRIORITY_CLASS_MANUAL);

  v1::CompleteTaskRequest c;
  c.set_task_id(t.task_id());
  c.set_fencing_token(t.fencing_token() + 1);  // not ours
  v1::CompleteTaskResponse cr;
  EXPECT_EQ(agent_->CompleteTask(Ctx().get(), c, &cr).error_code(),
            StatusCode::FAILED_PRECONDITION);
  c.set_fencing_token(t.fencing_token());
  auto* ch = c.add_records()->mutable_character();
  ch->set_character_id(2112000001);
  ch->set_name("Pilot");
  ASSERT_TRUE(agent_->CompleteTask(Ctx().get(), c, &cr).ok());
  EXPECT_EQ(cr.records_written(), 1);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_static"), 1);
}

TEST_F(AgentServiceTest, CompleteTasksGivesEachCompletionItsOwnOutcome) {
  v1::EnqueueRequest q;
  q.set_kind("character");
  q.add_ids(2112000001);
  q.add_ids(2112000002);
  v1::EnqueueResponse qr;
  ASSERT_TRUE(admin_->Enqueue(Ctx().get(), q, &qr).ok());
  v1::LeaseTasksResponse leased;
  ASSERT_TRUE(agent_->LeaseTasks(Ctx().get(), ValidLease(), &leased).ok());
  ASSERT_EQ(leased.tasks_size(), 2);

  v1::CompleteTasksRequest req;
  for (const auto& t : leased.tasks()) {
    auto* c = req.add_completions();
    c->set_task_id(t.task_id());
    c->set_fencing_token(t.fencing_token());
    auto* ch = c->add_records()->mutable_character();
    ch->set_character_id(t.entity_id());
    ch->set_name("Pilot");
  }
  req.mutable_completions(1)->set_fencing_token(leased.tasks(1).fencing_token() + 7);  // stale
  req.add_completions();                                                               // no task_id
  v1::CompleteTasksResponse resp;
  ASSERT_TRUE(agent_->CompleteTasks(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_EQ(resp.results(0).code(), 0) << resp.results(0).message();
  EXPECT_EQ(resp.results(0).records_written(), 1);
  EXPECT_EQ(resp.results(1).code(), static_cast<int>(StatusCode::FAILED_PRECONDITION));
  EXPECT_EQ(resp.results(2).code(), static_cast<int>(StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(resp.results(2).message().find("completions[2].task_id"), std::string::npos)
      << resp.results(2).message();
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_static"), 1);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM discovery_queue"), 1);

  v1::CompleteTasksRequest empty;
  ExpectInvalid(agent_->CompleteTasks(Ctx().get(), empty, &resp), "completions");
}

TEST_F(AgentServiceTest, DatabaseOutageIsUnavailableAndRecovers) {
  // A task is queued, so a lease needs the database. (An empty queue is
  // answered from the coordinator's queue indexes without it.)
  v1::EnqueueRequest q;
  q.set_kind("character");
  q.add_ids(1);
  v1::EnqueueResponse qr;
  ASSERT_TRUE(admin_->Enqueue(Ctx().get(), q, &qr).ok());
  v1::QueueStatusResponse st;
  ASSERT_TRUE(admin_->QueueStatus(Ctx().get(), v1::QueueStatusRequest(), &st).ok());
  proxy_->SetUp(false);
  v1::LeaseTasksResponse resp;
  auto s = agent_->LeaseTasks(Ctx().get(), ValidLease(), &resp);
  EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE) << s.error_message();
  q.set_ids(0, 2);
  EXPECT_EQ(admin_->Enqueue(Ctx().get(), q, &qr).error_code(), StatusCode::UNAVAILABLE);

  // Nothing was lost: the task the failed lease chose is leased now, with
  // the one queued after the outage.
  proxy_->SetUp(true);
  ASSERT_TRUE(admin_->Enqueue(Ctx().get(), q, &qr).ok());
  EXPECT_EQ(qr.enqueued(), 1);
  ASSERT_TRUE(agent_->LeaseTasks(Ctx().get(), ValidLease(), &resp).ok());
  EXPECT_EQ(resp.tasks_size(), 2);
}

TEST_F(AgentServiceTest, HealthFollowsTheDatabase) {
  // Real gRPC health protocol, as Kubernetes probes and grpcurl use it: on a
  // plain channel to this coordinator. (Sluice's own channels health-check
  // their addresses and send nothing to one that is NOT_SERVING.)
  auto health = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(client_.target, grpc::InsecureChannelCredentials()));
  auto check = [&] {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service("sluice.v1.AgentService");
    grpc::health::v1::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    auto s = health->Check(&ctx, req, &resp);
    return s.ok() ? resp.status() : grpc::health::v1::HealthCheckResponse::UNKNOWN;
  };
  auto wait_for = [&](grpc::health::v1::HealthCheckResponse::ServingStatus want) {
    for (int i = 0; i < 100 && check() != want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return check();
  };
  EXPECT_EQ(wait_for(grpc::health::v1::HealthCheckResponse::SERVING),
            grpc::health::v1::HealthCheckResponse::SERVING);
  proxy_->SetUp(false);
  EXPECT_EQ(wait_for(grpc::health::v1::HealthCheckResponse::NOT_SERVING),
            grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  proxy_->SetUp(true);
  EXPECT_EQ(wait_for(grpc::health::v1::HealthCheckResponse::SERVING),
            grpc::health::v1::HealthCheckResponse::SERVING);
}

class AuthTest : public CoordinatorFixture {};

TEST_F(AuthTest, TokenIsRequiredWhenConfigured) {
  StartCoordinator("s3cret");
  v1::QueueStatusResponse st;
  ASSERT_TRUE(admin_->QueueStatus(Ctx().get(), v1::QueueStatusRequest(), &st).ok());
  grpc::ClientContext anonymous;
  EXPECT_EQ(admin_->QueueStatus(&anonymous, v1::QueueStatusRequest(), &st).error_code(),
            StatusCode::UNAUTHENTICATED);
  grpc::ClientContext wrong;
  wrong.AddMetadata("authorization", "Bearer nope");
  EXPECT_EQ(agent_->LeaseTasks(&wrong, v1::LeaseTasksRequest(), nullptr).error_code(),
            StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace sluice::testing
