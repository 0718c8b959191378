// LocalThrottle against a real coordinator throttler (Throttler +
// ThrottleServiceImpl on 127.0.0.1:0, real gRPC): it never hands out more
// tokens than the coordinator granted it, nor any after a revocation, and it
// answers NextPermitted from its lease.
#include "client/throttle/local_throttle.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "common/grpc_security.h"
#include "common/time_util.h"
#include "server/service/throttle_service.h"
#include "server/throttle/throttler.h"
#include "tests/agent/fakes.h"
#include "tests/support/loopback_throttler.h"

namespace sluice::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const TimePoint kT0 = FromUnixSeconds(1'700'000'000);
constexpr int kLimit = 40;  // hits per 10 s window of the learned rule

class LocalThrottleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    throttle::ThrottlerOptions options;
    options.seed = 11;
    loop_ = std::make_unique<testing::LoopbackThrottler>(&clock_, options);
    ASSERT_TRUE(loop_->ok());
    throttler_ = loop_->throttler();
    target_ = loop_->target();
    Learn();
  }

  void TearDown() override {
    if (local_) local_->Shutdown();
    loop_->Shutdown();
  }

  // The route's PoE rule: kLimit hits per 10 s, learned from one response.
  void Learn() {
    throttle::Observation o;
    o.key = Key();
    o.status = 200;
    o.headers = {{"X-Rate-Limit-Policy", "local-test"},
                 {"X-Rate-Limit-Rules", "Client"},
                 {"X-Rate-Limit-Client", std::to_string(kLimit) + ":10:60"},
                 {"X-Rate-Limit-Client-State", "0:10:0"}};
    o.response_age = Duration::zero();
    ASSERT_TRUE(throttler_->Report(o).ok());
  }

  static throttle::CallKey Key() {
    throttle::CallKey key;
    key.upstream = throttle::Upstream::kPoe;
    key.route = "/local";
    return key;
  }
  static Route LocalRoute() { return Route{"poe", "/local", ""}; }

  void StartLocal(int lease_batch) {
    LocalThrottleOptions options;
    options.client_id = "team-a";
    options.lease_batch = lease_batch;
    options.refill_below = lease_batch;
    local_ = std::make_unique<LocalThrottle>(
        options, grpc::CreateChannel(target_, grpc::InsecureChannelCredentials()), &clock_);
    ASSERT_TRUE(local_->Start(seconds(10)).ok());
  }

  int64_t OutstandingCalls() {
    int64_t n = 0;
    for (const throttle::BudgetInfo& b : throttler_->ListBudgets()) {
      if (b.name.find("local-test") != std::string::npos) n = std::max(n, b.outstanding_calls);
    }
    return n;
  }

  FakeClock clock_{kT0};
  std::unique_ptr<testing::LoopbackThrottler> loop_;
  throttle::Throttler* throttler_ = nullptr;  // loop_'s
  std::string target_;
  std::unique_ptr<LocalThrottle> local_;
};

TEST_F(LocalThrottleTest, NeverGrantsBeyondWhatTheCoordinatorLeasedIt) {
  StartLocal(8);
  int granted = 0;
  LocalThrottle::Decision last;
  // The clock stands still, so nothing comes back and every grant must come
  // from a lease. A refusal at "now" means a lease is on its way; the first
  // refusal for later means the window is spent.
  for (int i = 0; i < 100 * kLimit; ++i) {
    LocalThrottle::Decision d = local_->Acquire(LocalRoute());
    if (d.granted) {
      ++granted;
      EXPECT_GT(d.lease_id, 0);
      continue;
    }
    last = d;
    if (d.retry_at > kT0) break;
    std::this_thread::sleep_for(milliseconds(1));
  }
  const auto stats = local_->stats();
  EXPECT_GT(granted, 0);
  EXPECT_LE(granted, kLimit);
  EXPECT_EQ(stats.tokens.taken, granted);
  EXPECT_LE(stats.tokens.taken, stats.tokens.granted);
  // What the coordinator holds in flight is every token it leased out:
  // the ones handed out and the ones still held.
  EXPECT_EQ(OutstandingCalls(), stats.tokens.granted);
  EXPECT_EQ(stats.tokens.granted - granted, local_->Available(LocalRoute()));
  ASSERT_FALSE(last.granted);
  EXPECT_GT(last.retry_at, kT0);
  EXPECT_NE(last.limiting_budget.find("local-test"), std::string::npos) << last.limiting_budget;

  // Shutdown returns what was not handed out.
  local_->Shutdown();
  EXPECT_EQ(OutstandingCalls(), granted);
}

TEST_F(LocalThrottleTest, StopsSpendingOnRevocation) {
  StartLocal(8);
  LocalThrottle::Decision first = local_->Acquire(LocalRoute());
  ASSERT_TRUE(first.granted);
  ASSERT_GT(local_->Available(LocalRoute()), 0);

  // Someone's call on the route comes back 429: the budget is restricted
  // and its leases revoked.
  throttle::Observation o;
  o.key = Key();
  o.status = 429;
  o.headers = {{"Retry-After", "30"},
               {"X-Rate-Limit-Policy", "local-test"},
               {"X-Rate-Limit-Rules", "Client"},
               {"X-Rate-Limit-Client", std::to_string(kLimit) + ":10:60"},
               {"X-Rate-Limit-Client-State", std::to_string(kLimit + 1) + ":10:30"}};
  o.lease_id = first.lease_id;
  o.response_age = Duration::zero();
  ASSERT_TRUE(throttler_->Report(o).ok());

  const auto until = std::chrono::steady_clock::now() + seconds(10);
  while (local_->Available(LocalRoute()) > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(local_->Available(LocalRoute()), 0);
  EXPECT_GE(local_->stats().revocations, 1);
  EXPECT_GT(local_->stats().tokens.revoked, 0);

  // Refused from here on. A lease granted just before the restriction may
  // arrive after the revocation (dropped on arrival: the gate then asks again
  // after a short pause); the coordinator's answer is the restriction's end.
  LocalThrottle::Decision after;
  for (int i = 0; i < 20; ++i) {
    after = local_->Acquire(LocalRoute());
    ASSERT_FALSE(after.granted) << i;
    if (after.retry_at >= kT0 + seconds(30)) break;
    clock_.Advance(milliseconds(200));
  }
  EXPECT_GE(after.retry_at, kT0 + seconds(30));
  EXPECT_GE(local_->NextPermitted(LocalRoute()), kT0 + seconds(30));
  EXPECT_EQ(local_->Available(LocalRoute()), 0);
}

TEST_F(LocalThrottleTest, NextPermittedAnswersFromTheLeaseAndConsumesNothing) {
  StartLocal(4);
  // Nothing held yet: it leases, as Acquire would, and keeps every token.
  EXPECT_EQ(local_->NextPermitted(LocalRoute()), kT0);
  const auto stats = local_->stats();
  EXPECT_GT(stats.tokens.granted, 0);
  EXPECT_EQ(stats.tokens.taken, 0);  // taken and put back
  EXPECT_EQ(stats.tokens.released, 1);
  const int held = local_->Available(LocalRoute());
  EXPECT_GT(held, 0);
  EXPECT_EQ(local_->NextPermitted(LocalRoute()), kT0);
  EXPECT_GE(local_->Available(LocalRoute()), held);  // leasing ahead may add more
}

// A coordinator took over (a newer throttler incarnation): once the call
// made on the old leader's token is reported, the next batch says so
// (ReportBatchRequest.settled_before_incarnation), as an agent's does, so
// the new leader can end its charge on ESI's error limit for this process.
TEST(LocalThrottleTakeoverTest, ATakeoverIsConfirmedOnceTheOldLeasesCallIsReported) {
  agent::testing::FakeThrottler throttler(SystemClock::Get());
  throttler.incarnation = 4;
  agent::testing::GrpcTestServer server({&throttler});
  LocalThrottleOptions options;
  options.client_id = "team-a";
  options.lease_batch = 4;
  options.refill_below = 0;
  options.report_interval = milliseconds(20);
  LocalThrottle local(options, server.channel(), SystemClock::Get());
  ASSERT_TRUE(local.Start(seconds(10)).ok());
  auto settlements = [&] { return throttler.settlements(); };
  const Route old_route{"esi", "/alliances/{id}/", ""};
  const LocalThrottle::Decision old_call = local.Acquire(old_route, seconds(5));
  ASSERT_TRUE(old_call.granted);
  EXPECT_EQ(old_call.incarnation, 4u);
  ASSERT_TRUE(agent::testing::WaitFor([&] { return settlements().size() == 1; }));
  EXPECT_EQ(settlements()[0].settled_before_incarnation(), 4u);

  throttler.incarnation = 5;
  const LocalThrottle::Decision new_call =
      local.Acquire(Route{"esi", "/universe/types/{id}/", ""}, seconds(5));
  ASSERT_TRUE(new_call.granted);
  EXPECT_EQ(new_call.incarnation, 5u);
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(settlements().size(), 1u) << "the old leader's call is still out";

  const auto now = std::chrono::steady_clock::now();
  local.Report(old_route, old_call, 200, {}, now - milliseconds(300), now - milliseconds(100));
  ASSERT_TRUE(agent::testing::WaitFor([&] { return settlements().size() == 2; }))
      << "the report of the old call settles the takeover";
  EXPECT_EQ(settlements()[1].settled_before_incarnation(), 5u);
  local.Release(Route{"esi", "/universe/types/{id}/", ""}, new_call);
  local.Shutdown();
}

}  // namespace
}  // namespace sluice::client
