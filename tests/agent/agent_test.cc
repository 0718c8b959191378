// The agent core with in-memory fakes: a test handler plugged in through a
// registry, a queue with fencing tokens, an unlimited (or held) rate gate and
// a scripted upstream.
#include "agent/core/agent.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "agent/handlers/all_handlers.h"
#include "common/time_util.h"
#include "tests/agent/fakes.h"

namespace sluice::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::Contains;
using testing::FakeRateGate;
using testing::FakeTaskService;
using testing::FakeUpstream;
using ::testing::HasSubstr;
using testing::InMemoryQueue;
using ::testing::IsSupersetOf;
using testing::JsonResponse;
using ::testing::Not;
using ::testing::Pair;
using testing::WaitFor;

// A kind the agent core has never heard of: GET http://fake/echo/<id>,
// body "ok" -> one alliance record with that id.
class EchoHandler final : public Handler {
 public:
  UpstreamRequest BuildRequest(const sluice::v1::Task& task) const override {
    return {absl::StrCat("http://fake/echo/", task.entity_id()), {{"X-Test", "1"}}};
  }
  absl::StatusOr<HandlerResult> Parse(const sluice::v1::Task& task,
                                      const HttpResponse& r) const override {
    // DATA_LOSS: an unreadable body, fetched again (a schema break would be
    // permanent: outcome_test).
    if (r.body != "ok") return absl::DataLossError("echo: body is not ok");
    HandlerResult out;
    sluice::v1::EntityRecord rec;
    rec.mutable_alliance()->set_alliance_id(task.entity_id());
    out.records.push_back(rec);
    return out;
  }
};

HandlerSet EchoHandlers() {
  HandlerRegistry registry;
  registry.Register(HandlerSpec{"echo", {"test", "/echo/{id}/"}, nullptr, [](const HandlerConfig&) {
                                  return std::make_unique<EchoHandler>();
                                }});
  return registry.Instantiate(HandlerConfig{});
}

int64_t IdOf(const std::string& url) {
  int64_t id = 0;
  EXPECT_TRUE(absl::SimpleAtoi(url.substr(url.rfind('/') + 1), &id)) << url;
  return id;
}

class AgentTest : public ::testing::Test {
 protected:
  AgentTest() {
    options_.agent_id = "agent-test";
    options_.workers = 2;
  }

  // Builds the agent; `respond` plays the upstream.
  Agent& Make(FakeUpstream::Responder respond) {
    auto tasks = std::make_unique<FakeTaskService>(&queue_);
    auto gate = std::make_unique<FakeRateGate>();
    auto upstream = std::make_unique<FakeUpstream>(std::move(respond));
    tasks_ = tasks.get();
    gate_ = gate.get();
    upstream_ = upstream.get();
    options_.lease_wait = milliseconds(100);
    agent_ = std::make_unique<Agent>(options_, EchoHandlers(), std::move(tasks), std::move(gate),
                                     std::move(upstream));
    return *agent_;
  }

  static FakeUpstream::Responder AlwaysOk() {
    return [](const std::string&, const RequestHeaders&) { return JsonResponse(200, "ok"); };
  }

  AgentOptions options_;
  InMemoryQueue queue_;
  FakeTaskService* tasks_ = nullptr;
  FakeRateGate* gate_ = nullptr;
  FakeUpstream* upstream_ = nullptr;
  std::unique_ptr<Agent> agent_;
};

TEST_F(AgentTest, TestHandlerPlugsInWithoutTouchingTheCore) {
  Agent& agent = Make(AlwaysOk());
  EXPECT_THAT(agent.kinds(), ::testing::ElementsAre("echo"));
  std::vector<int64_t> ids;
  for (int i = 1; i <= 20; ++i) ids.push_back(i);
  queue_.Enqueue("echo", ids);
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(queue_.WaitIdle(seconds(10)));
  agent.Stop();

  EXPECT_EQ(queue_.completions().size(), 20u);
  EXPECT_EQ(queue_.records("alliance").size(), 20u);
  AgentStats s = agent.stats();
  EXPECT_EQ(s.tasks_done, 20);
  EXPECT_EQ(s.tasks_leased, 20);
  EXPECT_EQ(s.upstream_requests, 20);
  EXPECT_EQ(s.tasks_failed, 0);
  EXPECT_EQ(gate_->acquired(), 20) << "one token per upstream call";
  EXPECT_TRUE(gate_->shut_down());
  auto observations = gate_->observations();
  ASSERT_EQ(observations.size(), 20u);
  EXPECT_EQ(observations[0].route.upstream, "test");
  EXPECT_EQ(observations[0].route.path_template, "/echo/{id}/");
  EXPECT_EQ(observations[0].status, 200);
  EXPECT_GT(observations[0].lease_id, 0);
  EXPECT_THAT(queue_.agents_seen(), Contains("agent-test"));
  EXPECT_THAT(upstream_->requests()[0].headers, Contains(Pair("X-Test", "1")));
}

TEST_F(AgentTest, SendsIfNoneMatchAndReports304AsNotModified) {
  Agent& agent = Make([](const std::string&, const RequestHeaders& headers) {
    for (const auto& [k, v] : headers) {
      if (k == "If-None-Match" && v == "\"e1\"") return JsonResponse(304, "", {{"ETag", "\"e1\""}});
    }
    return JsonResponse(200, "ok", {{"ETag", "\"e2\""}});
  });
  queue_.Enqueue("echo", {1}, "\"e1\"");
  queue_.Enqueue("echo", {2});
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(queue_.WaitIdle(seconds(10)));
  agent.Stop();

  auto completions = queue_.completions();
  ASSERT_EQ(completions.size(), 2u);
  for (const auto& c : completions) {
    if (c.etag() == "\"e1\"") {
      EXPECT_TRUE(c.not_modified());
      EXPECT_EQ(c.records_size(), 0);
    } else {
      EXPECT_EQ(c.etag(), "\"e2\"");
      EXPECT_FALSE(c.not_modified());
      EXPECT_EQ(c.records_size(), 1);
    }
  }
  EXPECT_EQ(agent.stats().not_modified, 1);
  EXPECT_EQ(agent.stats().tasks_done, 2);
  for (const auto& r : upstream_->requests()) {
    bool sent_inm = false;
    for (const auto& [k, v] : r.headers) sent_inm |= k == "If-None-Match";
    EXPECT_EQ(sent_inm, IdOf(r.url) == 1) << r.url;
  }
}

TEST_F(AgentTest, UpstreamFailuresBecomeTheMappedFailTasks) {
  queue_.max_attempts = 2;
  Agent& agent =
      Make([](const std::string& url, const RequestHeaders&) -> absl::StatusOr<HttpResponse> {
        switch (IdOf(url)) {
          case 1:
            return JsonResponse(404, R"({"error":"gone"})");
          case 2:
            return JsonResponse(503, "down");
          case 3:
            return JsonResponse(200, "{not json");
          case 4:
            return JsonResponse(429, "", {{"Retry-After", "1"}});
          default:
            return absl::UnavailableError("connection refused");
        }
      });
  queue_.Enqueue("echo", {1, 2, 3, 4, 5});
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(queue_.WaitIdle(seconds(10)));
  agent.Stop();

  EXPECT_THAT(queue_.dead(), IsSupersetOf({Pair("echo", 1), Pair("echo", 2), Pair("echo", 3),
                                           Pair("echo", 4), Pair("echo", 5)}));
  // The agent reports statuses; the queue (here the fake, with the real
  // RetryPolicy) dead-letters the 404 on its first failure.
  bool saw_404 = false;
  for (const auto& f : queue_.failures()) {
    EXPECT_FALSE(f.permanent()) << f.error();
    if (f.http_status() == 404) saw_404 = true;
    if (f.http_status() == 429) {
      EXPECT_EQ(f.retry_after().seconds(), 1);
    }
  }
  EXPECT_TRUE(saw_404);
  AgentStats s = agent.stats();
  EXPECT_EQ(s.tasks_done, 0);
  EXPECT_EQ(s.tasks_failed, 9);  // 404 once, the other four twice
  EXPECT_EQ(s.tasks_failed_permanent, 5);
  EXPECT_EQ(s.bad_bodies, 2);
  EXPECT_EQ(s.rate_limited, 2);
  EXPECT_EQ(s.upstream_errors, 7);
  auto observations = gate_->observations();
  EXPECT_THAT(observations, Contains(::testing::Field(&UpstreamObservation::status, 0)))
      << "transport failures are observed too";
}

TEST_F(AgentTest, StopReleasesQueuedTasksAndTasksWaitingForTokens) {
  Agent& agent = Make(AlwaysOk());
  gate_->set_hold(true);
  std::vector<int64_t> ids;
  for (int i = 1; i <= 10; ++i) ids.push_back(i);
  queue_.Enqueue("echo", ids);
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return agent.stats().tasks_leased >= 4; }));
  std::this_thread::sleep_for(milliseconds(100));
  int64_t leased = agent.stats().tasks_leased;
  agent.Stop();

  AgentStats s = agent.stats();
  EXPECT_EQ(s.upstream_requests, 0);
  EXPECT_EQ(s.tasks_released, leased) << "every lease is handed back, none left to lapse";
  EXPECT_TRUE(gate_->shut_down());
  for (const auto& f : queue_.failures()) {
    EXPECT_FALSE(f.permanent());
    EXPECT_THAT(f.error(), ::testing::AnyOf(HasSubstr("draining"), HasSubstr("no rate token")));
  }
  EXPECT_TRUE(queue_.dead().empty());
  EXPECT_EQ(queue_.pending(), 10u) << "released tasks stay queued for another agent";
}

TEST_F(AgentTest, StopLetsARunningRequestFinishAndDeliversItsResult) {
  std::atomic<bool> in_flight{false};
  options_.workers = 1;
  Agent& agent = Make([&](const std::string&, const RequestHeaders&) {
    in_flight = true;
    std::this_thread::sleep_for(milliseconds(300));
    return JsonResponse(200, "ok");
  });
  queue_.Enqueue("echo", {1});
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return in_flight.load(); }));
  agent.Stop();
  EXPECT_EQ(queue_.completions().size(), 1u);
  EXPECT_EQ(agent.stats().tasks_done, 1);
}

TEST_F(AgentTest, ExtendsTheLeaseOfASlowTask) {
  options_.lease_duration = seconds(1);
  options_.extend_interval = milliseconds(50);
  Agent& agent = Make([](const std::string&, const RequestHeaders&) {
    std::this_thread::sleep_for(milliseconds(1500));
    return JsonResponse(200, "ok");
  });
  queue_.Enqueue("echo", {1});
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(queue_.WaitIdle(seconds(10)));
  agent.Stop();
  EXPECT_GE(queue_.extensions().size(), 2u);
  EXPECT_EQ(queue_.completions().size(), 1u) << "the extended lease still held at completion";
  EXPECT_EQ(agent.stats().leases_lost, 0);
}

TEST_F(AgentTest, ResultOfALostLeaseIsDropped) {
  InMemoryQueue* queue = &queue_;
  Agent& agent = Make([queue](const std::string&, const RequestHeaders&) {
    // Meanwhile the lease lapsed and someone else got the task.
    queue->BumpFencing(1);
    return JsonResponse(200, "ok");
  });
  queue_.Enqueue("echo", {1});
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return agent.stats().leases_lost == 1; }));
  agent.Stop();
  EXPECT_TRUE(queue_.completions().empty());
  EXPECT_EQ(agent.stats().tasks_done, 0);
  EXPECT_EQ(agent.stats().report_errors, 0);
}

TEST_F(AgentTest, DrainTimeoutAbandonsResultsTheCoordinatorNeverTakes) {
  options_.drain_timeout = milliseconds(300);
  std::atomic<bool> called{false};
  Agent& agent = Make([&](const std::string&, const RequestHeaders&) {
    called = true;
    return JsonResponse(200, "ok");
  });
  tasks_->hang_results = true;
  queue_.Enqueue("echo", {1});
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return called.load(); }));
  auto started = std::chrono::steady_clock::now();
  agent.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(3));
  EXPECT_TRUE(tasks_->aborted);
  EXPECT_EQ(agent.stats().report_errors, 1);
}

TEST_F(AgentTest, OnlyItsFirstLeaseSaysANewProcessStarted) {
  // So the coordinator ends what an earlier process with this id left
  // leased, once, and never the leases this process holds.
  options_.max_tasks = 2;
  Agent& agent = Make(AlwaysOk());
  std::vector<int64_t> ids;
  for (int i = 1; i <= 20; ++i) ids.push_back(i);
  queue_.Enqueue("echo", ids);
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(queue_.WaitIdle(seconds(10)));
  agent.Stop();
  EXPECT_GE(tasks_->lease_calls.load(), 10);
  EXPECT_EQ(tasks_->new_process_leases.load(), 1);
}

TEST_F(AgentTest, HoldsOnlyAFewBatchesWhateverTheQueueSize) {
  Agent& agent = Make(AlwaysOk());
  gate_->set_hold(true);
  std::vector<int64_t> ids;
  for (int i = 1; i <= 500; ++i) ids.push_back(i);
  queue_.Enqueue("echo", ids);
  ASSERT_TRUE(agent.Start().ok());
  std::this_thread::sleep_for(milliseconds(400));
  // Fewer than 2 x max_tasks (2 x 2 workers) waiting plus at most one per
  // worker in hand (tasks whose budget has no room go back and others come).
  AgentStats s = agent.stats();
  EXPECT_LE(s.tasks_leased - s.tasks_released, 2 * 4 + 2);
  agent.Stop();
}

TEST_F(AgentTest, LeasesTheNextBatchWhileAWholeOneIsStillWaiting) {
  options_.workers = 1;
  options_.max_tasks = 4;
  std::promise<void> go;
  std::shared_future<void> going = go.get_future().share();
  Agent& agent = Make([going](const std::string&, const RequestHeaders&) {
    going.wait();
    return JsonResponse(200, "ok");
  });
  std::vector<int64_t> ids;
  for (int i = 1; i <= 100; ++i) ids.push_back(i);
  queue_.Enqueue("echo", ids);
  ASSERT_TRUE(agent.Start().ok());
  // The worker holds its first task; 3 of the first batch wait, fewer than
  // a batch, so the next one is leased at once: the worker will not wait on
  // that round trip. Then 7 wait and the leaser stops.
  const bool leased_ahead = WaitFor([&] { return agent.stats().tasks_leased >= 8; }, seconds(5));
  const int64_t leased = agent.stats().tasks_leased;
  go.set_value();
  ASSERT_TRUE(queue_.WaitIdle(seconds(20)));
  agent.Stop();
  EXPECT_TRUE(leased_ahead);
  EXPECT_EQ(leased, 8);
  EXPECT_EQ(agent.stats().tasks_done, 100);
}

TEST_F(AgentTest, CompletionsTravelInCompleteTasksBatches) {
  options_.workers = 4;
  Agent& agent = Make(AlwaysOk());
  std::vector<int64_t> ids;
  for (int i = 1; i <= 40; ++i) ids.push_back(i);
  queue_.Enqueue("echo", ids);
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(queue_.WaitIdle(seconds(10)));
  agent.Stop();
  EXPECT_EQ(agent.stats().tasks_done, 40);
  EXPECT_EQ(tasks_->complete_task_calls, 0);
  EXPECT_EQ(tasks_->batched_completions, 40);
}

TEST_F(AgentTest, CoalesceZeroCompletesEachTaskWithItsOwnCall) {
  options_.complete_coalesce = Duration::zero();
  Agent& agent = Make(AlwaysOk());
  std::vector<int64_t> ids;
  for (int i = 1; i <= 20; ++i) ids.push_back(i);
  queue_.Enqueue("echo", ids);
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(queue_.WaitIdle(seconds(10)));
  agent.Stop();
  EXPECT_EQ(agent.stats().tasks_done, 20);
  EXPECT_EQ(tasks_->complete_task_calls, 20);
  EXPECT_EQ(tasks_->complete_tasks_calls, 0);
}

TEST_F(AgentTest, AWorkerIsNotBlockedByASlowCompleteTasks) {
  // One worker, and a coordinator that does not answer completions yet: the
  // worker hands each result over and runs the next task meanwhile.
  options_.workers = 1;
  options_.complete_coalesce = milliseconds(1);
  std::atomic<int> called{0};
  Agent& agent = Make([&](const std::string&, const RequestHeaders&) {
    ++called;
    return JsonResponse(200, "ok");
  });
  tasks_->hang_results = true;
  queue_.Enqueue("echo", {1, 2, 3});
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return called.load() == 3; }));
  // The first batch may still be coalescing when the third task runs.
  ASSERT_TRUE(WaitFor([&] { return tasks_->complete_tasks_calls.load() >= 1; }));
  EXPECT_EQ(queue_.completed_count(), 0);
  EXPECT_EQ(agent.stats().tasks_done, 0) << "counted when the answer comes, not before";
  EXPECT_EQ(agent.stats().leases_held, 3) << "leases are kept alive until the answer";
  tasks_->hang_results = false;
  ASSERT_TRUE(WaitFor([&] { return agent.stats().tasks_done == 3; }));
  EXPECT_EQ(agent.stats().leases_held, 0);
  agent.Stop();
  EXPECT_EQ(queue_.completed_count(), 3);
}

TEST_F(AgentTest, ACompletionRefusedAsStaleIsCountedAndItsLeaseDropped) {
  options_.workers = 1;
  options_.complete_coalesce = milliseconds(1);
  Agent& agent = Make(AlwaysOk());
  tasks_->hang_results = true;  // answered only once the lease was superseded
  queue_.Enqueue("echo", {1});
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return tasks_->complete_tasks_calls.load() >= 1; }));
  queue_.BumpFencing(1);
  tasks_->hang_results = false;
  ASSERT_TRUE(WaitFor([&] { return agent.stats().leases_lost == 1; }));
  AgentStats s = agent.stats();
  EXPECT_EQ(s.tasks_done, 0);
  EXPECT_EQ(s.report_errors, 0);
  EXPECT_EQ(s.leases_held, 0);
  agent.Stop();
  EXPECT_TRUE(queue_.completions().empty());
}

TEST_F(AgentTest, StopDeliversTheCompletionsStillPending) {
  // Results wait to fill a batch that never fills; the drain sends them.
  options_.workers = 2;
  options_.complete_batch_max = 100;
  options_.complete_coalesce = seconds(60);
  Agent& agent = Make(AlwaysOk());
  queue_.Enqueue("echo", {1, 2, 3, 4, 5});
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return upstream_->requests().size() == 5; }));
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(tasks_->complete_tasks_calls, 0);
  const auto started = std::chrono::steady_clock::now();
  agent.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(10));
  EXPECT_EQ(queue_.completed_count(), 5);
  EXPECT_EQ(agent.stats().tasks_done, 5);
  EXPECT_EQ(agent.stats().leases_held, 0);
}

TEST_F(AgentTest, ALostLeaseInABatchIsCountedForItsTaskAlone) {
  // The coordinator refuses one completion of a batch (its lease went to
  // another agent meanwhile): only that task counts as a lost lease.
  options_.workers = 3;
  options_.complete_batch_max = 3;
  options_.complete_coalesce = seconds(30);  // the batch goes when all three wait
  std::promise<void> go;
  std::shared_future<void> going = go.get_future().share();
  std::atomic<int> called{0};
  Agent& agent = Make([&called, going](const std::string&, const RequestHeaders&) {
    ++called;
    going.wait();
    return JsonResponse(200, "ok");
  });
  queue_.Enqueue("echo", {1, 2, 3});
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return called.load() == 3; }));
  queue_.BumpFencing(2);  // task ids follow enqueue order
  go.set_value();
  ASSERT_TRUE(WaitFor([&] { return queue_.completed_count() == 2; }));
  agent.Stop();
  AgentStats s = agent.stats();
  EXPECT_EQ(s.tasks_done, 2);
  EXPECT_EQ(s.leases_lost, 1);
  EXPECT_EQ(s.report_errors, 0);
  EXPECT_EQ(tasks_->complete_tasks_calls, 1);
}

TEST_F(AgentTest, ATaskWhoseBudgetHasNoRoomGoesBackUntilItHasAndCostsNoAttempt) {
  options_.token_wait = milliseconds(100);
  options_.workers = 1;
  queue_.max_backoff = std::chrono::minutes(5);
  Agent& agent = Make(AlwaysOk());
  gate_->set_hold(true, std::chrono::seconds(42));
  queue_.Enqueue("echo", {1});
  ASSERT_TRUE(agent.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return !queue_.failures().empty(); }));
  agent.Stop();
  auto f = queue_.failures()[0];
  EXPECT_FALSE(f.permanent());
  EXPECT_TRUE(f.release()) << "no upstream call was made: no attempt";
  EXPECT_THAT(f.error(), HasSubstr("fake/held"));
  EXPECT_GE(FromProtoDuration(f.retry_after()), std::chrono::seconds(41));
  EXPECT_LE(FromProtoDuration(f.retry_after()), std::chrono::seconds(42));
  EXPECT_EQ(agent.stats().upstream_requests, 0);
  EXPECT_EQ(agent.stats().tasks_deferred, 1);
}

// A 420 on page 2 of a region limits this address, not the task: it goes
// back for another agent without an attempt, but not before page 1's
// Expires, as the other agent starts again at page 1.
TEST_F(AgentTest, AnAddressLimitedPagedReadIsHandedBackOnlyAfterItsPagesExpire) {
  const TimePoint expires = SystemClock::Get()->Now() + std::chrono::seconds(120);
  const std::string expires_header =
      absl::FormatTime("%a, %d %b %Y %H:%M:%S GMT", absl::FromChrono(expires), absl::UTCTimeZone());
  HandlerConfig config;
  config.esi_base_url = "http://esi.test/latest";
  auto upstream = std::make_unique<FakeUpstream>([&](const std::string& url, const RequestHeaders&)
                                                     -> absl::StatusOr<HttpResponse> {
    if (absl::StrContains(url, "page=1")) {
      return JsonResponse(200, "[]", {{"X-Pages", "2"}, {"Expires", expires_header}});
    }
    return JsonResponse(420, R"({"error":"error limited"})", {{"X-ESI-Error-Limit-Reset", "5"}});
  });
  options_.workers = 1;
  agent_ = std::make_unique<Agent>(options_, DefaultHandlerRegistry().Instantiate(config),
                                   std::make_unique<FakeTaskService>(&queue_),
                                   std::make_unique<FakeRateGate>(), std::move(upstream));
  queue_.Enqueue("contracts_region", {10000002});
  ASSERT_TRUE(agent_->Start().ok());
  ASSERT_TRUE(WaitFor([&] { return !queue_.failures().empty(); }));
  agent_->Stop();
  auto f = queue_.failures()[0];
  EXPECT_EQ(f.http_status(), 420);
  EXPECT_TRUE(f.release()) << "the address is limited, not the task: no attempt";
  EXPECT_GE(FromProtoDuration(f.retry_after()), std::chrono::seconds(110));
  EXPECT_LE(FromProtoDuration(f.retry_after()), std::chrono::seconds(120));
}

TEST_F(AgentTest, WithoutHandlersItRefusesToStart) {
  Agent agent(options_, HandlerSet{}, std::make_unique<FakeTaskService>(&queue_),
              std::make_unique<FakeRateGate>(), std::make_unique<FakeUpstream>(AlwaysOk()));
  EXPECT_EQ(agent.Start().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(HandlerRegistryTest, DefaultRegistryServesTheEsiKinds) {
  const HandlerRegistry r = DefaultHandlerRegistry();
  EXPECT_THAT(r.Kinds(), IsSupersetOf({"alliance_ids", "alliance", "alliance_corporations",
                                       "corporation", "corporation_members", "character"}));
  EXPECT_EQ(r.Find("alliance")->route.upstream, "esi");
  EXPECT_EQ(r.Find("alliance")->route.path_template, "/alliances/{id}/");
  EXPECT_EQ(r.Find("corporation_members")->route.path_template, "/corporations/{id}/members/");
}

TEST(HandlerRegistryTest, MemberListNeedsAnEsiToken) {
  HandlerConfig anonymous;
  const HandlerRegistry registry = DefaultHandlerRegistry();
  EXPECT_THAT(registry.Instantiate(anonymous).Kinds(), Not(Contains("corporation_members")));
  HandlerConfig with_token;
  with_token.esi_token = "sso";
  EXPECT_THAT(registry.Instantiate(with_token).Kinds(), Contains("corporation_members"));
}

TEST(HandlerRegistryTest, DuplicateKindIsAProgrammingError) {
  HandlerRegistry registry;
  auto spec = HandlerSpec{"x", {"test", "/x/"}, nullptr, [](const HandlerConfig&) {
                            return std::make_unique<EchoHandler>();
                          }};
  registry.Register(spec);
  EXPECT_DEATH(registry.Register(spec), "registered twice");
}

TEST(HandlerRegistryTest, EmptyKindIsAProgrammingError) {
  HandlerRegistry registry;
  auto spec = HandlerSpec{"", {"test", "/x/"}, nullptr, [](const HandlerConfig&) {
                            return std::make_unique<EchoHandler>();
                          }};
  EXPECT_DEATH(registry.Register(spec), "without a kind");
}

TEST(HandlerRegistryTest, RegisteringTheDefaultKindsTwiceIsAProgrammingError) {
  HandlerRegistry registry = DefaultHandlerRegistry();
  EXPECT_DEATH(RegisterAllianceHandler(registry), "registered twice: alliance");
}

TEST(HandlerRegistryTest, RegistriesAreIndependent) {
  HandlerRegistry some;
  RegisterAllianceHandler(some);
  RegisterCharacterHandler(some);
  EXPECT_THAT(some.Kinds(), ::testing::ElementsAre("alliance", "character"));
  EXPECT_EQ(some.Find("corporation"), nullptr);
  // Another registry, with the same kinds and more, does not see or disturb it.
  HandlerRegistry all = DefaultHandlerRegistry();
  EXPECT_NE(all.Find("corporation"), nullptr);
  EXPECT_THAT(some.Instantiate(HandlerConfig{}).Kinds(),
              ::testing::ElementsAre("alliance", "character"));
}

}  // namespace
}  // namespace sluice::agent
