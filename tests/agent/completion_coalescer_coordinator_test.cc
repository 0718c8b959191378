// CompletionCoalescer -> CoordinatorClient -> a real coordinator on a
// throwaway PostgreSQL database: many completions commit through one
// CompleteTasks call, a stale token fails only its own task, and neither a
// database outage nor an unreachable coordinator in the middle of a batch
// loses a completion. Outages are real: a TCP proxy in front of the database
// (the fixture's) or in front of the coordinator is cut and restored.
#include <grpcpp/support/client_interceptor.h>

#include <atomic>
#include <thread>

#include "agent/coordinator/coordinator_client.h"
#include "agent/core/completion_coalescer.h"
#include "common/time_util.h"
#include "tests/agent/fakes.h"
#include "tests/server/service/coordinator_fixture.h"

namespace sluice::testing {
namespace {

using agent::CompletionCoalescer;
using agent::CoordinatorClient;
using agent::CoordinatorClientOptions;
using agent::testing::WaitFor;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kForever = std::chrono::duration_cast<std::chrono::microseconds>(seconds(60));

// Counts into `calls` the CompleteTasks calls a channel starts (retries
// included).
class CountCompleteTasks : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit CountCompleteTasks(std::atomic<int>* calls) : calls_(calls) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* info) override {
    if (std::string(info->method()) != "/sluice.v1.AgentService/CompleteTasks") return nullptr;
    return new Counting(calls_);
  }

 private:
  class Counting : public grpc::experimental::Interceptor {
   public:
    explicit Counting(std::atomic<int>* calls) : calls_(calls) {}
    void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
      if (methods->QueryInterceptionHookPoint(
              grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
        ++*calls_;
      }
      methods->Proceed();
    }

   private:
    std::atomic<int>* calls_;
  };
  std::atomic<int>* calls_;
};

class CoalescerCoordinatorTest : public CoordinatorFixture {
 protected:
  void SetUp() override { StartCoordinator(); }

  // A CoordinatorClient to `target` whose CompleteTasks calls are counted
  // in complete_tasks_calls_; it reconnects quickly once an outage ends.
  std::unique_ptr<CoordinatorClient> Client(const std::string& target) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
    std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> counting;
    counting.push_back(std::make_unique<CountCompleteTasks>(&complete_tasks_calls_));
    auto channel = grpc::experimental::CreateCustomChannelWithInterceptors(
        target, grpc::InsecureChannelCredentials(), args, std::move(counting));
    CoordinatorClientOptions o;
    o.rpc_timeout = seconds(5);
    o.retry_initial = milliseconds(20);
    o.retry_max = milliseconds(100);
    return std::make_unique<CoordinatorClient>(o, v1::AgentService::NewStub(channel));
  }

  std::vector<v1::Task> EnqueueAndLease(int n) {
    v1::EnqueueRequest q;
    q.set_kind("character");
    for (int i = 0; i < n; ++i) q.add_ids(2112000001 + i);
    v1::EnqueueResponse qr;
    EXPECT_TRUE(admin_->Enqueue(Ctx().get(), q, &qr).ok());
    v1::LeaseTasksRequest r;
    r.set_agent_id("agent-1");
    r.add_kinds("character");
    r.set_max_tasks(n);
    *r.mutable_lease_duration() = ToProtoDuration(seconds(300));
    v1::LeaseTasksResponse leased;
    EXPECT_TRUE(agent_->LeaseTasks(Ctx().get(), r, &leased).ok());
    EXPECT_EQ(leased.tasks_size(), n);
    return {leased.tasks().begin(), leased.tasks().end()};
  }

  static v1::CompleteTaskRequest CompletionFor(const v1::Task& t) {
    v1::CompleteTaskRequest c;
    c.set_task_id(t.task_id());
    c.set_fencing_token(t.fencing_token());
    c.set_agent_id("agent-1");
    auto* ch = c.add_records()->mutable_character();
    ch->set_character_id(t.entity_id());
    ch->set_name("Pilot");
    return c;
  }

  // Starts one worker thread per task completing it through `coalescer`.
  void StartWorkers(CompletionCoalescer* coalescer, const std::vector<v1::Task>& tasks) {
    results_.assign(tasks.size(), absl::UnknownError("not run"));
    for (size_t i = 0; i < tasks.size(); ++i) {
      workers_.emplace_back([this, coalescer, i, c = CompletionFor(tasks[i])] {
        results_[i] = coalescer->Complete(c);
      });
    }
  }
  void JoinWorkers() {
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::atomic<int> complete_tasks_calls_{0};
  std::vector<absl::StatusOr<v1::CompleteTaskResponse>> results_;
  std::vector<std::thread> workers_;
};

TEST_F(CoalescerCoordinatorTest, ManyConcurrentCompletionsCommitThroughOneCompleteTasks) {
  auto tasks = EnqueueAndLease(40);
  auto client = Client(client_.target);
  CompletionCoalescer coalescer({/*max_batch=*/40, kForever}, client.get());
  StartWorkers(&coalescer, tasks);
  JoinWorkers();
  for (const auto& r : results_) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->records_written(), 1);
  }
  EXPECT_EQ(complete_tasks_calls_, 1);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_static"), 40);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM discovery_queue"), 0);
}

TEST_F(CoalescerCoordinatorTest, AStaleTokenFailsOnlyItsOwnTask) {
  auto tasks = EnqueueAndLease(3);
  tasks[1].set_fencing_token(tasks[1].fencing_token() + 1);  // not the task's current lease
  auto client = Client(client_.target);
  CompletionCoalescer coalescer({/*max_batch=*/3, kForever}, client.get());
  StartWorkers(&coalescer, tasks);
  JoinWorkers();
  EXPECT_EQ(complete_tasks_calls_, 1);
  EXPECT_TRUE(results_[0].ok()) << results_[0].status();
  EXPECT_EQ(results_[1].status().code(), absl::StatusCode::kFailedPrecondition)
      << results_[1].status();
  EXPECT_TRUE(results_[2].ok()) << results_[2].status();
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_static"), 2);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM discovery_queue"), 1);
}

TEST_F(CoalescerCoordinatorTest, DatabaseOutageMidBatchLosesNothing) {
  auto tasks = EnqueueAndLease(20);
  auto client = Client(client_.target);
  CompletionCoalescer coalescer({/*max_batch=*/20, kForever}, client.get());
  proxy_->SetUp(false);
  StartWorkers(&coalescer, tasks);
  // The batch reached the coordinator, which could not commit it, and went
  // again: the outage is in the middle of it.
  const bool retried = WaitFor([&] { return complete_tasks_calls_ >= 2; }, seconds(30));
  proxy_->SetUp(true);
  JoinWorkers();
  ASSERT_TRUE(retried);
  for (const auto& r : results_) EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_static"), 20);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM discovery_queue"), 0);
}

TEST_F(CoalescerCoordinatorTest, UnreachableCoordinatorMidBatchLosesNothing) {
  auto tasks = EnqueueAndLease(20);
  TcpProxy link("127.0.0.1", coordinator_->port());
  auto client = Client("127.0.0.1:" + std::to_string(link.port()));
  CompletionCoalescer coalescer({/*max_batch=*/20, kForever}, client.get());
  link.SetUp(false);
  StartWorkers(&coalescer, tasks);
  const bool retried = WaitFor([&] { return complete_tasks_calls_ >= 2; }, seconds(30));
  link.SetUp(true);
  JoinWorkers();
  ASSERT_TRUE(retried);
  for (const auto& r : results_) EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(db_.Count("SELECT count(*) FROM character_static"), 20);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM discovery_queue"), 0);
}

}  // namespace
}  // namespace sluice::testing
