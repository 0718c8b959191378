// CompletionCoalescer with an in-memory TaskService, and through the real
// CoordinatorClient onto a fake AgentService over gRPC: how completions are
// grouped into CompleteTasks calls and how each worker gets its own answer.
// tests/agent/completion_coalescer_coordinator_test.cc runs it against a
// real coordinator and PostgreSQL, outages included.
#include "agent/core/completion_coalescer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <numeric>
#include <thread>

#include "agent/coordinator/coordinator_client.h"
#include "common/time_util.h"
#include "tests/agent/fakes.h"

namespace sluice::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::Each;
using testing::FakeAgentService;
using testing::FakeTaskService;
using testing::GrpcTestServer;
using testing::InMemoryQueue;
using ::testing::Le;

// Longer than any test runs: a batch sent before it was sent because it was
// full, not because its time was up.
constexpr auto kForever = std::chrono::duration_cast<std::chrono::microseconds>(seconds(60));

std::vector<sluice::v1::Task> LeaseAll(InMemoryQueue& queue, int n) {
  std::vector<int64_t> ids(n);
  std::iota(ids.begin(), ids.end(), 1);
  queue.Enqueue("alliance", ids);
  sluice::v1::LeaseTasksRequest r;
  r.set_agent_id("a");
  r.add_kinds("alliance");
  r.set_max_tasks(n);
  *r.mutable_lease_duration() = ToProtoDuration(seconds(60));
  auto leased = queue.Lease(r);
  EXPECT_TRUE(leased.ok()) << leased.status();
  EXPECT_EQ(leased->tasks_size(), n);
  return {leased->tasks().begin(), leased->tasks().end()};
}

sluice::v1::CompleteTaskRequest CompletionFor(const sluice::v1::Task& t) {
  sluice::v1::CompleteTaskRequest c;
  c.set_task_id(t.task_id());
  c.set_fencing_token(t.fencing_token());
  c.set_agent_id("a");
  c.add_records()->mutable_alliance()->set_alliance_id(t.entity_id());
  return c;
}

// Completes every request on a thread of its own, all at once, as workers
// do; the answers in request order.
std::vector<absl::StatusOr<sluice::v1::CompleteTaskResponse>> CompleteConcurrently(
    CompletionCoalescer& coalescer, const std::vector<sluice::v1::CompleteTaskRequest>& requests) {
  std::vector<absl::StatusOr<sluice::v1::CompleteTaskResponse>> results(
      requests.size(), absl::UnknownError("not run"));
  std::vector<std::thread> workers;
  for (size_t i = 0; i < requests.size(); ++i) {
    workers.emplace_back([&, i] { results[i] = coalescer.Complete(requests[i]); });
  }
  for (auto& w : workers) w.join();
  return results;
}

std::vector<sluice::v1::CompleteTaskRequest> CompletionsFor(
    const std::vector<sluice::v1::Task>& tasks) {
  std::vector<sluice::v1::CompleteTaskRequest> out;
  for (const auto& t : tasks) out.push_back(CompletionFor(t));
  return out;
}

TEST(CompletionCoalescerTest, ManyConcurrentCompletionsGoOutInOneCompleteTasks) {
  InMemoryQueue queue;
  FakeTaskService service(&queue);
  auto tasks = LeaseAll(queue, 50);
  CompletionCoalescer coalescer({/*max_batch=*/50, kForever}, &service);
  auto results = CompleteConcurrently(coalescer, CompletionsFor(tasks));
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->records_written(), 1);
  }
  EXPECT_EQ(service.complete_tasks_calls, 1);
  EXPECT_EQ(service.batched_completions, 50);
  EXPECT_EQ(service.complete_task_calls, 0);
  EXPECT_EQ(queue.completed_count(), 50);
}

TEST(CompletionCoalescerTest, ALoneCompletionIsSentOnceItsCoalesceTimeIsUp) {
  InMemoryQueue queue;
  FakeTaskService service(&queue);
  auto tasks = LeaseAll(queue, 1);
  CompletionCoalescer coalescer({/*max_batch=*/100, milliseconds(50)}, &service);
  const auto started = std::chrono::steady_clock::now();
  auto result = coalescer.Complete(CompletionFor(tasks[0]));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(50));
  EXPECT_EQ(service.complete_tasks_calls, 1);
  EXPECT_EQ(queue.completed_count(), 1);
}

TEST(CompletionCoalescerTest, AStaleTokenFailsOnlyItsOwnTask) {
  InMemoryQueue queue;
  FakeTaskService service(&queue);
  auto tasks = LeaseAll(queue, 3);
  queue.BumpFencing(tasks[1].task_id());  // its lease expired and went to another agent
  CompletionCoalescer coalescer({/*max_batch=*/3, kForever}, &service);
  auto results = CompleteConcurrently(coalescer, CompletionsFor(tasks));
  EXPECT_EQ(service.complete_tasks_calls, 1) << "the three travelled together";
  EXPECT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(results[2].ok()) << results[2].status();
  EXPECT_EQ(queue.completed_count(), 2);
}

TEST(CompletionCoalescerTest, CoalesceZeroSendsOneCompleteTaskPerTask) {
  InMemoryQueue queue;
  FakeTaskService service(&queue);
  auto tasks = LeaseAll(queue, 10);
  CompletionCoalescer coalescer({/*max_batch=*/100, std::chrono::microseconds::zero()}, &service);
  auto results = CompleteConcurrently(coalescer, CompletionsFor(tasks));
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(service.complete_task_calls, 10);
  EXPECT_EQ(service.complete_tasks_calls, 0);
  EXPECT_EQ(queue.completed_count(), 10);
}

// Submits each request and returns at once; `answers` gets each answer in
// request order, `answered` counts them.
struct Answers {
  explicit Answers(size_t n) : results(n, absl::UnknownError("not answered")) {}
  std::mutex mu;
  std::vector<absl::StatusOr<sluice::v1::CompleteTaskResponse>> results;
  std::atomic<int> answered{0};
};

void SubmitAll(CompletionCoalescer& coalescer,
               const std::vector<sluice::v1::CompleteTaskRequest>& requests, Answers* answers) {
  for (size_t i = 0; i < requests.size(); ++i) {
    coalescer.Submit(requests[i], [answers, i](CompletionCoalescer::Result r) {
      std::lock_guard<std::mutex> lock(answers->mu);
      answers->results[i] = std::move(r);
      ++answers->answered;
    });
  }
}

TEST(CompletionCoalescerTest, SubmitReturnsWhileTheCoordinatorHasNotAnswered) {
  InMemoryQueue queue;
  FakeTaskService service(&queue);
  auto tasks = LeaseAll(queue, 5);
  service.hang_results = true;  // CompleteTasks does not return until released
  CompletionCoalescer coalescer({/*max_batch=*/100, milliseconds(1)}, &service);
  Answers answers(tasks.size());
  const auto started = std::chrono::steady_clock::now();
  SubmitAll(coalescer, CompletionsFor(tasks), &answers);
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(1));
  ASSERT_TRUE(testing::WaitFor([&] { return service.complete_tasks_calls >= 1; }));
  EXPECT_EQ(answers.answered, 0);
  EXPECT_EQ(coalescer.pending(), 5);
  service.hang_results = false;
  ASSERT_TRUE(testing::WaitFor([&] { return answers.answered == 5; }));
  for (const auto& r : answers.results) EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(queue.completed_count(), 5);
  EXPECT_EQ(coalescer.pending(), 0);
}

TEST(CompletionCoalescerTest, SubmitBlocksOnceMaxPendingAreUnanswered) {
  InMemoryQueue queue;
  FakeTaskService service(&queue);
  auto tasks = LeaseAll(queue, 5);
  service.hang_results = true;
  CompletionCoalescerOptions o{/*max_batch=*/2, milliseconds(1)};
  o.max_pending = 4;
  CompletionCoalescer coalescer(o, &service);
  auto requests = CompletionsFor(tasks);
  Answers answers(requests.size());
  SubmitAll(coalescer, {requests.begin(), requests.begin() + 4}, &answers);
  std::atomic<bool> fifth_in{false};
  std::thread fifth([&] {
    coalescer.Submit(requests[4], [&](CompletionCoalescer::Result r) {
      EXPECT_TRUE(r.ok()) << r.status();
      ++answers.answered;
    });
    fifth_in = true;
  });
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_FALSE(fifth_in) << "four completions pending: the fifth waits for room";
  service.hang_results = false;
  fifth.join();
  ASSERT_TRUE(testing::WaitFor([&] { return answers.answered == 5; }));
  EXPECT_EQ(queue.completed_count(), 5);
}

TEST(CompletionCoalescerTest, AStaleTokenReachesOnlyItsOwnCallback) {
  InMemoryQueue queue;
  FakeTaskService service(&queue);
  auto tasks = LeaseAll(queue, 3);
  queue.BumpFencing(tasks[0].task_id());
  CompletionCoalescer coalescer({/*max_batch=*/3, kForever}, &service);
  Answers answers(tasks.size());
  SubmitAll(coalescer, CompletionsFor(tasks), &answers);
  ASSERT_TRUE(testing::WaitFor([&] { return answers.answered == 3; }));
  EXPECT_EQ(answers.results[0].status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(answers.results[1].ok()) << answers.results[1].status();
  EXPECT_TRUE(answers.results[2].ok()) << answers.results[2].status();
  EXPECT_EQ(service.complete_tasks_calls, 1);
}

TEST(CompletionCoalescerTest, ShutdownDeliversWhatIsPendingWithoutWaitingOutTheCoalesceTime) {
  InMemoryQueue queue;
  FakeTaskService service(&queue);
  auto tasks = LeaseAll(queue, 8);
  const sluice::v1::Task last = tasks.back();
  tasks.pop_back();
  CompletionCoalescer coalescer({/*max_batch=*/100, kForever}, &service);
  Answers answers(tasks.size());
  SubmitAll(coalescer, CompletionsFor(tasks), &answers);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(service.complete_tasks_calls, 0) << "the batch is neither full nor due";
  const auto started = std::chrono::steady_clock::now();
  coalescer.Shutdown();
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(5));
  EXPECT_EQ(answers.answered, 7);
  for (const auto& r : answers.results) EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(queue.completed_count(), 7);
  // After shutdown a completion still reaches the coordinator, on its own.
  auto late = coalescer.Complete(CompletionFor(last));
  EXPECT_TRUE(late.ok()) << late.status();
  EXPECT_EQ(service.complete_task_calls, 1);
}

// Through CoordinatorClient over gRPC, where the fake service records each
// CompleteTasks call's size.
class CoalescerOverGrpcTest : public ::testing::Test {
 protected:
  CoalescerOverGrpcTest() : service_(&queue_), server_({&service_}) {
    CoordinatorClientOptions o;
    o.retry_initial = milliseconds(10);
    o.retry_max = milliseconds(50);
    client_ = std::make_unique<CoordinatorClient>(
        o, sluice::v1::AgentService::NewStub(
               grpc::CreateChannel(server_.address(), grpc::InsecureChannelCredentials())));
  }

  InMemoryQueue queue_;
  FakeAgentService service_;
  GrpcTestServer server_;
  std::unique_ptr<CoordinatorClient> client_;
};

TEST_F(CoalescerOverGrpcTest, NoBatchExceedsMaxBatch) {
  auto tasks = LeaseAll(queue_, 25);
  CompletionCoalescer coalescer({/*max_batch=*/10, milliseconds(100)}, client_.get());
  auto results = CompleteConcurrently(coalescer, CompletionsFor(tasks));
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.status();
  const std::vector<int> sizes = service_.batch_sizes();
  EXPECT_THAT(sizes, Each(Le(10)));
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), 0), 25);
  EXPECT_EQ(queue_.completed_count(), 25);
}

TEST_F(CoalescerOverGrpcTest, NoBatchExceedsMaxBytes) {
  auto tasks = LeaseAll(queue_, 3);
  auto requests = CompletionsFor(tasks);
  for (auto& r : requests) r.set_etag(std::string(1000, 'e'));
  CompletionCoalescerOptions o{/*max_batch=*/100, milliseconds(200)};
  o.max_bytes = 2500;  // two of them fit, three do not
  CompletionCoalescer coalescer(o, client_.get());
  auto results = CompleteConcurrently(coalescer, requests);
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.status();
  const std::vector<int> sizes = service_.batch_sizes();
  EXPECT_THAT(sizes, Each(Le(2)));
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), 0), 3);
}

TEST_F(CoalescerOverGrpcTest, CompletionsTheCoordinatorCouldNotCommitAreSentAgainAlone) {
  auto tasks = LeaseAll(queue_, 3);
  queue_.BumpFencing(tasks[2].task_id());
  // The first two completions of the first call meet a database outage.
  service_.unavailable_completions = 2;
  CompletionCoalescer coalescer({/*max_batch=*/3, kForever}, client_.get());
  auto results = CompleteConcurrently(coalescer, CompletionsFor(tasks));
  EXPECT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_TRUE(results[1].ok()) << results[1].status();
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kFailedPrecondition);
  // The stale one was refused for good at once: only the other two went
  // again.
  EXPECT_EQ(service_.batch_sizes(), (std::vector<int>{3, 2}));
  EXPECT_EQ(queue_.completed_count(), 2);
}

TEST_F(CoalescerOverGrpcTest, AWholeBatchIsRetriedWhileTheCoordinatorIsUnavailable) {
  auto tasks = LeaseAll(queue_, 4);
  service_.unavailable_results = 2;
  CompletionCoalescer coalescer({/*max_batch=*/4, kForever}, client_.get());
  auto results = CompleteConcurrently(coalescer, CompletionsFor(tasks));
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(service_.batch_sizes(), (std::vector<int>{4, 4, 4}));
  EXPECT_EQ(queue_.completed_count(), 4);
}

TEST_F(CoalescerOverGrpcTest, ABatchGivenUpGivesEveryWorkerTheError) {
  CoordinatorClientOptions o;
  o.retry_initial = milliseconds(10);
  o.retry_max = milliseconds(50);
  o.result_retry_window = milliseconds(200);
  CoordinatorClient client(o, sluice::v1::AgentService::NewStub(grpc::CreateChannel(
                                  server_.address(), grpc::InsecureChannelCredentials())));
  auto tasks = LeaseAll(queue_, 2);
  service_.unavailable_completions = 1000000;
  CompletionCoalescer coalescer({/*max_batch=*/2, kForever}, &client);
  auto results = CompleteConcurrently(coalescer, CompletionsFor(tasks));
  for (const auto& r : results) EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(queue_.completed_count(), 0);
}

}  // namespace
}  // namespace sluice::agent
