// CoordinatorClient against a fake AgentService over real gRPC: deadlines,
// auth metadata, and retrying results through a coordinator restart.
#include "agent/coordinator/coordinator_client.h"

#include <gtest/gtest.h>

#include <thread>

#include "common/time_util.h"
#include "tests/agent/fakes.h"
#include "tests/support/ports.h"

namespace sluice::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeAgentService;
using testing::GrpcTestServer;
using testing::InMemoryQueue;

class CoordinatorClientTest : public ::testing::Test {
 protected:
  CoordinatorClientTest() : service_(&queue_), server_({&service_}) {
    queue_.Enqueue("alliance", {99005338});
  }

  std::unique_ptr<CoordinatorClient> MakeClient(CoordinatorClientOptions o = {}) {
    if (o.retry_initial == milliseconds(200)) o.retry_initial = milliseconds(10);
    if (o.retry_max == milliseconds(5000)) o.retry_max = milliseconds(50);
    return std::make_unique<CoordinatorClient>(
        o, sluice::v1::AgentService::NewStub(
               grpc::CreateChannel(server_.address(), grpc::InsecureChannelCredentials())));
  }

  sluice::v1::Task LeaseOne(CoordinatorClient& client) {
    sluice::v1::LeaseTasksRequest r;
    r.set_agent_id("a");
    r.add_kinds("alliance");
    r.set_max_tasks(1);
    *r.mutable_lease_duration() = ToProtoDuration(seconds(60));
    auto leased = client.LeaseTasks(r);
    EXPECT_TRUE(leased.ok()) << leased.status();
    EXPECT_EQ(leased->tasks_size(), 1);
    return leased->tasks(0);
  }

  static sluice::v1::CompleteTaskRequest CompletionFor(const sluice::v1::Task& t) {
    sluice::v1::CompleteTaskRequest c;
    c.set_task_id(t.task_id());
    c.set_fencing_token(t.fencing_token());
    c.set_agent_id("a");
    return c;
  }

  InMemoryQueue queue_;
  FakeAgentService service_;
  GrpcTestServer server_;
};

TEST_F(CoordinatorClientTest, RetriesCompleteTaskThroughUnavailable) {
  auto client = MakeClient();
  auto task = LeaseOne(*client);
  service_.unavailable_results = 2;
  auto done = client->CompleteTask(CompletionFor(task));
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(service_.result_calls, 3);
  EXPECT_EQ(queue_.completions().size(), 1u);
}

TEST_F(CoordinatorClientTest, LostLeaseIsReportedAndNotRetried) {
  auto client = MakeClient();
  auto task = LeaseOne(*client);
  queue_.BumpFencing(task.task_id());
  auto done = client->CompleteTask(CompletionFor(task));
  ASSERT_FALSE(done.ok());
  EXPECT_EQ(done.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(service_.result_calls, 1);
}

TEST_F(CoordinatorClientTest, GivesUpWhenTheRetryWindowCloses) {
  CoordinatorClientOptions o;
  o.result_retry_window = milliseconds(300);
  auto client = MakeClient(o);
  auto task = LeaseOne(*client);
  service_.unavailable_results = 1000000;
  auto started = std::chrono::steady_clock::now();
  auto done = client->CompleteTask(CompletionFor(task));
  EXPECT_EQ(done.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(2));
}

TEST_F(CoordinatorClientTest, AbortRetriesEndsARetryLoopAtOnce) {
  auto client = MakeClient();
  auto task = LeaseOne(*client);
  service_.unavailable_results = 1000000;
  std::thread abort([&] {
    std::this_thread::sleep_for(milliseconds(200));
    client->AbortRetries();
  });
  auto started = std::chrono::steady_clock::now();
  auto done = client->FailTask([&] {
    sluice::v1::FailTaskRequest f;
    f.set_task_id(task.task_id());
    f.set_fencing_token(task.fencing_token());
    return f;
  }());
  abort.join();
  EXPECT_EQ(done.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(2));
}

TEST_F(CoordinatorClientTest, SendsTheBearerToken) {
  service_.required_authorization = "Bearer s3cret";
  CoordinatorClientOptions with_token;
  with_token.rpc.auth_token = "s3cret";
  auto good = MakeClient(with_token);
  LeaseOne(*good);

  auto anonymous = MakeClient();
  sluice::v1::LeaseTasksRequest r;
  r.set_agent_id("a");
  r.add_kinds("alliance");
  r.set_max_tasks(1);
  auto refused = anonymous->LeaseTasks(r);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(CoordinatorClientTest, LongPollGetsItsWaitOnTopOfTheRpcDeadline) {
  CoordinatorClientOptions o;
  o.rpc_timeout = milliseconds(100);
  auto client = MakeClient(o);
  sluice::v1::LeaseTasksRequest r;
  r.set_agent_id("a");
  r.add_kinds("character");  // nothing queued: the fake waits the whole `wait`
  r.set_max_tasks(1);
  *r.mutable_wait() = ToProtoDuration(milliseconds(500));
  auto leased = client->LeaseTasks(r);
  ASSERT_TRUE(leased.ok()) << leased.status();
  EXPECT_EQ(leased->tasks_size(), 0);
}

TEST(CoordinatorRestartTest, ResultIsDeliveredOnceTheCoordinatorIsBack) {
  const int port = sluice::testing::UnusedLoopbackPort();
  InMemoryQueue queue;
  queue.Enqueue("alliance", {1});
  FakeAgentService service(&queue);
  sluice::v1::Task task;
  {
    GrpcTestServer first({&service}, port);
    auto leased = queue.Lease([] {
      sluice::v1::LeaseTasksRequest r;
      r.add_kinds("alliance");
      r.set_max_tasks(1);
      *r.mutable_lease_duration() = ToProtoDuration(seconds(60));
      return r;
    }());
    ASSERT_TRUE(leased.ok());
    task = leased->tasks(0);
  }  // the coordinator goes away

  CoordinatorClientOptions o;
  o.retry_initial = milliseconds(20);
  o.retry_max = milliseconds(100);
  o.rpc_timeout = milliseconds(500);
  CoordinatorClient client(
      o, sluice::v1::AgentService::NewStub(grpc::CreateChannel(
             "127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials())));
  std::unique_ptr<GrpcTestServer> second;
  std::thread restart([&] {
    std::this_thread::sleep_for(milliseconds(400));
    second = std::make_unique<GrpcTestServer>(std::vector<grpc::Service*>{&service}, port);
  });
  sluice::v1::CompleteTaskRequest c;
  c.set_task_id(task.task_id());
  c.set_fencing_token(task.fencing_token());
  auto done = client.CompleteTask(c);
  restart.join();
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(queue.completions().size(), 1u);
}

}  // namespace
}  // namespace sluice::agent
