// CoordinatorRateGate against a fake ThrottlerService over real gRPC.
#include "agent/throttle/coordinator_rate_gate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "common/time_util.h"
#include "tests/agent/fakes.h"

namespace sluice::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeThrottler;
using testing::GrpcTestServer;
using ::testing::UnorderedElementsAre;
using testing::WaitFor;

const Route kRoute{"esi", "/alliances/{id}/"};

class CoordinatorRateGateTest : public ::testing::Test {
 protected:
  CoordinatorRateGateTest() : throttler_(SystemClock::Get()), server_({&throttler_}) {}
  ~CoordinatorRateGateTest() override {
    gate_.reset();
    throttler_.Stop();
  }

  CoordinatorRateGate& MakeGate(int batch = 4, bool start = true, int arm_chunk = 1) {
    CoordinatorRateGateOptions o;
    o.agent_id = "agent-7";
    o.egress = "198.51.100.7";
    o.lease_batch = batch;
    o.arm_chunk = arm_chunk;
    o.report_interval = milliseconds(20);
    gate_ = std::make_unique<CoordinatorRateGate>(
        o, sluice::v1::ThrottlerService::NewStub(server_.channel()), SystemClock::Get());
    if (start) gate_->Start();
    return *gate_;
  }

  static TimePoint In(Duration d) { return SystemClock::Get()->Now() + d; }

  FakeThrottler throttler_;
  GrpcTestServer server_;
  std::unique_ptr<CoordinatorRateGate> gate_;
};

TEST_F(CoordinatorRateGateTest, LeasesABatchAndSpendsItLocally) {
  auto& gate = MakeGate(4, /*start=*/false);
  for (int i = 0; i < 4; ++i) {
    auto permit = gate.Acquire(kRoute, In(seconds(5)));
    ASSERT_TRUE(permit.ok()) << permit.status();
    EXPECT_EQ(permit->lease_id, 1);
  }
  EXPECT_EQ(throttler_.lease_calls(), 1) << "one round trip buys a batch";
  auto requests = throttler_.lease_requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].agent_id(), "agent-7");
  EXPECT_EQ(requests[0].route().upstream(), "esi");
  EXPECT_EQ(requests[0].route().route(), "/alliances/{id}/");
  EXPECT_EQ(requests[0].route().egress(), "198.51.100.7");
  EXPECT_EQ(requests[0].count(), 4);

  auto fifth = gate.Acquire(kRoute, In(seconds(5)));
  ASSERT_TRUE(fifth.ok());
  EXPECT_EQ(fifth->lease_id, 2);
  EXPECT_EQ(throttler_.lease_calls(), 2);
}

TEST_F(CoordinatorRateGateTest, RefusalWaitsForRetryAtWithoutBusyLooping) {
  auto& gate = MakeGate(2, /*start=*/false);
  throttler_.refuse = true;
  throttler_.refuse_retry_after_ms = 400;
  std::thread lift([this] {
    std::this_thread::sleep_for(milliseconds(150));
    throttler_.refuse = false;
  });
  auto started = std::chrono::steady_clock::now();
  auto permit = gate.Acquire(kRoute, In(seconds(5)));
  auto took = std::chrono::steady_clock::now() - started;
  lift.join();
  ASSERT_TRUE(permit.ok()) << permit.status();
  EXPECT_GE(took, milliseconds(350)) << "asked again before retry_at";
  EXPECT_EQ(throttler_.lease_calls(), 2) << "one refusal, one grant, nothing in between";
}

TEST_F(CoordinatorRateGateTest, DeadlineBeforeRetryAtFailsWithDeadlineExceeded) {
  auto& gate = MakeGate(2, /*start=*/false);
  throttler_.refuse = true;
  throttler_.refuse_retry_after_ms = 5000;
  auto started = std::chrono::steady_clock::now();
  auto permit = gate.Acquire(kRoute, In(milliseconds(200)));
  ASSERT_FALSE(permit.ok());
  EXPECT_EQ(permit.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - started, milliseconds(1500));
  EXPECT_EQ(throttler_.lease_calls(), 1);
}

TEST_F(CoordinatorRateGateTest, RevocationDropsTokensReturnsThemAndHoldsTheRoute) {
  auto& gate = MakeGate(5);
  ASSERT_TRUE(WaitFor([&] { return throttler_.watchers() == 1; }));
  ASSERT_TRUE(gate.Acquire(kRoute, In(seconds(5))).ok());
  ASSERT_EQ(gate.Available(kRoute), 4);

  throttler_.Revoke("esi/group/alliance", {1}, In(seconds(3)));
  ASSERT_TRUE(WaitFor([&] { return gate.Available(kRoute) == 0; }));
  ASSERT_TRUE(WaitFor([&] { return throttler_.returned() == 4; }))
      << "returned " << throttler_.returned();
  EXPECT_EQ(throttler_.returned_by_lease().at(1), 4);

  auto permit = gate.Acquire(kRoute, In(milliseconds(300)));
  ASSERT_FALSE(permit.ok()) << "the route is restricted until the revocation's `until`";
  EXPECT_EQ(permit.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(throttler_.lease_calls(), 1);
  EXPECT_EQ(gate.stats().revocations, 1);
}

TEST_F(CoordinatorRateGateTest, BrokenRevocationStreamReconnectsAndDropsHeldTokens) {
  auto& gate = MakeGate(5);
  ASSERT_TRUE(WaitFor([&] { return throttler_.watchers() == 1; }));
  ASSERT_TRUE(gate.Acquire(kRoute, In(seconds(5))).ok());
  throttler_.BreakStreams();
  ASSERT_TRUE(WaitFor([&] { return throttler_.returned() == 4; }));
  EXPECT_EQ(gate.Available(kRoute), 0);
  EXPECT_TRUE(WaitFor([&] { return throttler_.watchers() == 1; })) << "stream reopened";
  EXPECT_TRUE(gate.Acquire(kRoute, In(seconds(5))).ok());
}

TEST_F(CoordinatorRateGateTest, ExpiredLeaseIsNotSpentAndIsReturned) {
  throttler_.lease_ttl = milliseconds(400);  // usable for 150 ms (250 ms margin)
  auto& gate = MakeGate(3);
  auto first = gate.Acquire(kRoute, In(seconds(5)));
  ASSERT_TRUE(first.ok());
  std::this_thread::sleep_for(milliseconds(200));
  auto second = gate.Acquire(kRoute, In(seconds(5)));
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second->lease_id, first->lease_id) << "an expired lease must not be spent";
  EXPECT_EQ(throttler_.lease_calls(), 2);
  EXPECT_TRUE(WaitFor([&] { return throttler_.returned_by_lease()[first->lease_id] == 2; }));
}

TEST_F(CoordinatorRateGateTest, LeaseLifetimeComesFromTtlNotTheCoordinatorsClock) {
  throttler_.clock_skew = -std::chrono::minutes(5);  // its expires_at is already past here
  auto& gate = MakeGate(3, /*start=*/false);
  ASSERT_TRUE(gate.Acquire(kRoute, In(seconds(5))).ok());
  EXPECT_EQ(gate.Available(kRoute), 2);
  EXPECT_EQ(throttler_.lease_calls(), 1);
}

TEST_F(CoordinatorRateGateTest, WithoutTtlExpiresAtIsUsed) {
  throttler_.send_ttl = false;
  throttler_.clock_skew = -std::chrono::minutes(5);
  auto& gate = MakeGate(3, /*start=*/false);
  auto permit = gate.Acquire(kRoute, In(milliseconds(300)));
  EXPECT_FALSE(permit.ok()) << "an already-expired lease must not be spent";
  gate.Shutdown();
  EXPECT_EQ(throttler_.returned(), 3 * throttler_.lease_calls());
}

TEST_F(CoordinatorRateGateTest, ObservationsCarrySendAndResponseAges) {
  auto& gate = MakeGate();
  UpstreamObservation o;
  o.route = kRoute;
  o.status = 200;
  o.sent_at = std::chrono::steady_clock::now() - milliseconds(300);
  o.received_at = std::chrono::steady_clock::now() - milliseconds(100);
  gate.Report(o);
  ASSERT_TRUE(WaitFor([&] { return throttler_.observations().size() == 1; }));
  auto sent = throttler_.observations()[0];
  Duration sent_age = FromProtoDuration(sent.sent_age());
  Duration response_age = FromProtoDuration(sent.response_age());
  EXPECT_GE(sent_age, milliseconds(300));
  EXPECT_LT(sent_age, seconds(5));
  EXPECT_GE(response_age, milliseconds(100));
  EXPECT_LT(response_age, sent_age);
}

TEST_F(CoordinatorRateGateTest, RejectedBatchIsDroppedNotResentForever) {
  throttler_.report_batch_code = static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT);
  auto& gate = MakeGate();
  UpstreamObservation o;
  o.route = kRoute;
  o.status = 200;
  gate.Report(o);
  ASSERT_TRUE(WaitFor([&] { return gate.stats().observations_rejected == 1; }));
  throttler_.report_batch_code = 0;
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_TRUE(throttler_.observations().empty());
  EXPECT_EQ(gate.stats().report_errors, 0);
}

TEST_F(CoordinatorRateGateTest, UnreachableThrottlerKeepsObservationsForLater) {
  throttler_.report_batch_code = static_cast<int>(grpc::StatusCode::UNAVAILABLE);
  auto& gate = MakeGate();
  UpstreamObservation o;
  o.route = kRoute;
  o.status = 200;
  gate.Report(o);
  ASSERT_TRUE(WaitFor([&] { return gate.stats().report_errors >= 1; }));
  throttler_.report_batch_code = 0;
  EXPECT_TRUE(WaitFor([&] { return throttler_.observations().size() == 1; }));
}

TEST_F(CoordinatorRateGateTest, ForwardsOnlyRateLimitHeadersInBatches) {
  auto& gate = MakeGate();
  UpstreamObservation o;
  o.route = kRoute;
  o.status = 429;
  o.headers.Add("X-ESI-Error-Limit-Remain", "97");
  o.headers.Add("X-ESI-Error-Limit-Reset", "41");
  o.headers.Add("X-Ratelimit-Group", "alliance");
  o.headers.Add("x-ratelimit-remaining", "0");
  o.headers.Add("X-Rate-Limit-Ip-State", "46:60:120");
  o.headers.Add("Retry-After", "12");
  o.headers.Add("Set-Cookie", "secret=1");
  o.headers.Add("Content-Type", "application/json");
  o.observed_at = FromUnixSeconds(1800000000);
  o.lease_id = 33;
  gate.Report(o);
  ASSERT_TRUE(WaitFor([&] { return throttler_.observations().size() == 1; }));
  const auto sent = throttler_.observations()[0];
  EXPECT_EQ(sent.route().upstream(), "esi");
  EXPECT_EQ(sent.route().route(), "/alliances/{id}/");
  EXPECT_EQ(sent.route().egress(), "198.51.100.7");
  EXPECT_EQ(sent.status(), 429);
  EXPECT_EQ(sent.lease_id(), 33);
  EXPECT_EQ(sent.observed_at().seconds(), 1800000000);
  std::vector<std::string> names;
  for (const auto& h : sent.headers()) names.push_back(h.name());
  EXPECT_THAT(names, UnorderedElementsAre("X-ESI-Error-Limit-Remain", "X-ESI-Error-Limit-Reset",
                                          "X-Ratelimit-Group", "x-ratelimit-remaining",
                                          "X-Rate-Limit-Ip-State", "Retry-After"));
}

TEST_F(CoordinatorRateGateTest, FullBatchIsSentWithoutWaitingForTheInterval) {
  CoordinatorRateGateOptions o;
  o.agent_id = "agent-7";
  o.report_interval = seconds(30);
  o.report_batch = 64;
  gate_ = std::make_unique<CoordinatorRateGate>(
      o, sluice::v1::ThrottlerService::NewStub(server_.channel()), SystemClock::Get());
  gate_->Start();
  for (int i = 0; i < 64; ++i) {
    UpstreamObservation obs;
    obs.route = kRoute;
    obs.status = 200;
    gate_->Report(obs);
  }
  EXPECT_TRUE(WaitFor([&] { return throttler_.observations().size() == 64; }, seconds(3)));
}

TEST_F(CoordinatorRateGateTest, ReleasedPermitIsSpendableAgain) {
  auto& gate = MakeGate(2, /*start=*/false);
  auto permit = gate.Acquire(kRoute, In(seconds(5)));
  ASSERT_TRUE(permit.ok());
  gate.Release(*permit);
  EXPECT_EQ(gate.Available(kRoute), 2);
}

TEST_F(CoordinatorRateGateTest, ShutdownReturnsUnspentTokensAndRefusesAcquire) {
  auto& gate = MakeGate(8);
  ASSERT_TRUE(gate.Acquire(kRoute, In(seconds(5))).ok());
  gate.Shutdown();
  EXPECT_EQ(throttler_.returned(), 7);
  auto after = gate.Acquire(kRoute, In(seconds(5)));
  EXPECT_EQ(after.status().code(), absl::StatusCode::kCancelled);
}

TEST_F(CoordinatorRateGateTest, ShutdownFlushesQueuedObservations) {
  CoordinatorRateGateOptions o;
  o.agent_id = "agent-7";
  o.report_interval = seconds(30);
  gate_ = std::make_unique<CoordinatorRateGate>(
      o, sluice::v1::ThrottlerService::NewStub(server_.channel()), SystemClock::Get());
  gate_->Start();
  for (int i = 0; i < 3; ++i) {
    UpstreamObservation obs;
    obs.route = kRoute;
    gate_->Report(obs);
  }
  gate_->Shutdown();
  EXPECT_EQ(throttler_.observations().size(), 3u);
}

TEST_F(CoordinatorRateGateTest, CancelWaitersWakesABlockedAcquire) {
  auto& gate = MakeGate(2, /*start=*/false);
  throttler_.refuse = true;
  throttler_.refuse_retry_after_ms = 60000;
  std::thread cancel([&] {
    std::this_thread::sleep_for(milliseconds(100));
    gate.CancelWaiters();
  });
  auto started = std::chrono::steady_clock::now();
  // A deadline past the throttler's retry time: the call waits for it.
  auto permit = gate.Acquire(kRoute, In(seconds(90)));
  cancel.join();
  EXPECT_EQ(permit.status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(2));
}

TEST_F(CoordinatorRateGateTest, ARefusalBeyondTheDeadlineFailsAtOnceSayingWhen) {
  auto& gate = MakeGate(2, /*start=*/false);
  throttler_.refuse = true;
  throttler_.refuse_retry_after_ms = 60000;
  auto started = std::chrono::steady_clock::now();
  GateRefusal refusal;
  auto permit = gate.Acquire(kRoute, In(seconds(5)), &refusal);
  EXPECT_EQ(permit.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - started, seconds(1)) << "no wait for nothing";
  EXPECT_GE(refusal.retry_at, In(seconds(59)));
  EXPECT_EQ(throttler_.lease_calls(), 1);
}

TEST_F(CoordinatorRateGateTest, EachCallerLeasesItsOwnTokens) {
  auto& gate = MakeGate(2, /*start=*/false);
  Route one = kRoute.BilledTo("char:1");
  Route two = kRoute.BilledTo("char:2");
  ASSERT_TRUE(gate.Acquire(one, In(seconds(5))).ok());
  ASSERT_TRUE(gate.Acquire(two, In(seconds(5))).ok());
  EXPECT_EQ(throttler_.lease_calls(), 2) << "a token of one character is not another's";
  EXPECT_EQ(gate.Available(one), 1);
  EXPECT_EQ(gate.Available(two), 1);
}

// Arming: with a coordinator that grants arming leases, a token is handed
// out only after ArmTokens acknowledged it.

TEST_F(CoordinatorRateGateTest, ArmingGateNeverHandsOutAnUnarmedToken) {
  throttler_.arming = true;
  auto& gate = MakeGate(8);
  constexpr int kWorkers = 4;
  constexpr int kCallsEach = 25;
  std::atomic<int> made{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&] {
      for (int i = 0; i < kCallsEach; ++i) {
        auto permit = gate.Acquire(kRoute, In(seconds(10)));
        if (!permit.ok()) {
          ADD_FAILURE() << permit.status();
          return;
        }
        throttler_.NoteUpstreamCall(permit->lease_id);  // the upstream call
        UpstreamObservation o;
        o.route = kRoute;
        o.status = 200;
        o.lease_id = permit->lease_id;
        gate.Report(o);
        ++made;
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(made, kWorkers * kCallsEach);
  EXPECT_EQ(throttler_.unarmed_calls(), 0) << ::testing::PrintToString(throttler_.events());
  for (const auto& r : throttler_.lease_requests()) EXPECT_TRUE(r.arm_before_use());
  // One token per ArmTokens (chunk 1): each armed once, taken by whoever
  // armed it or another caller; at most one armed and unused per caller.
  EXPECT_GE(throttler_.arm_calls(), kWorkers * kCallsEach);
  EXPECT_LE(throttler_.arm_calls(), kWorkers * kCallsEach + kWorkers);
  ASSERT_TRUE(WaitFor([&] { return throttler_.observation_count() == kWorkers * kCallsEach; }));
  EXPECT_EQ(gate.stats().arm_failures, 0);
}

TEST_F(CoordinatorRateGateTest, ARefusedArmMeansNoUpstreamCallOnThatLease) {
  throttler_.arming = true;
  throttler_.refuse_arms = 1;  // lease 1 was revoked (or expired) before it could be armed
  auto& gate = MakeGate(4);
  auto permit = gate.Acquire(kRoute, In(seconds(5)));
  ASSERT_TRUE(permit.ok()) << permit.status();
  EXPECT_EQ(permit->lease_id, 2) << "no token of lease 1 may be used";
  EXPECT_TRUE(WaitFor([&] { return throttler_.returned_by_lease()[1] == 4; }))
      << "lease 1's tokens are handed back";
  EXPECT_EQ(gate.stats().arm_failures, 1);
  EXPECT_EQ(gate.stats().tokens.arm_failed, 4);
  EXPECT_EQ(gate.Available(kRoute), 3);
}

TEST_F(CoordinatorRateGateTest, ArmsAlwaysRefusedMeanNoPermitAndNoBusyLoop) {
  throttler_.arming = true;
  throttler_.refuse_arms = 1000000;
  auto& gate = MakeGate(4);
  auto permit = gate.Acquire(kRoute, In(milliseconds(600)));
  ASSERT_FALSE(permit.ok());
  EXPECT_EQ(permit.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(throttler_.lease_calls(), 1);
  EXPECT_LE(throttler_.lease_calls(), 6) << "a refused arm backs off before leasing again";
  gate.Shutdown();
  EXPECT_EQ(throttler_.returned(), throttler_.granted_total());
}

TEST_F(CoordinatorRateGateTest, ReleasedArmedTokenIsSpentWithoutArmingAgain) {
  throttler_.arming = true;
  auto& gate = MakeGate(3, /*start=*/false);
  auto permit = gate.Acquire(kRoute, In(seconds(5)));
  ASSERT_TRUE(permit.ok());
  gate.Release(*permit);
  ASSERT_TRUE(gate.Acquire(kRoute, In(seconds(5))).ok());
  EXPECT_EQ(throttler_.arm_calls(), 1);
}

TEST_F(CoordinatorRateGateTest, ALargerChunkArmsSeveralTokensPerCall) {
  throttler_.arming = true;
  auto& gate = MakeGate(8, /*start=*/false, /*arm_chunk=*/4);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(gate.Acquire(kRoute, In(seconds(5))).ok());
  EXPECT_EQ(throttler_.arm_calls(), 2);
  EXPECT_EQ(throttler_.lease_calls(), 1);
}

TEST_F(CoordinatorRateGateTest, WithoutArmingGrantedTokensAreSpentAsBefore) {
  // A coordinator that does not know arming grants plain leases: nothing to arm.
  auto& gate = MakeGate(2, /*start=*/false);
  ASSERT_TRUE(gate.Acquire(kRoute, In(seconds(5))).ok());
  EXPECT_TRUE(throttler_.lease_requests()[0].arm_before_use());
  EXPECT_EQ(throttler_.arm_calls(), 0);
  // And arm_chunk 0 does not ask for arming at all.
  throttler_.arming = true;
  auto& plain = MakeGate(2, /*start=*/false, /*arm_chunk=*/0);
  ASSERT_TRUE(plain.Acquire(kRoute, In(seconds(5))).ok());
  EXPECT_FALSE(throttler_.lease_requests().back().arm_before_use());
  EXPECT_EQ(throttler_.arm_calls(), 0);
}

TEST(CoordinatorRateGateNoThrottlerTest, UnimplementedThrottlerMeansNoTokens) {
  testing::InMemoryQueue queue;
  testing::FakeAgentService agent_service(&queue);  // a coordinator without a throttler
  GrpcTestServer server({&agent_service});
  CoordinatorRateGateOptions o;
  o.agent_id = "agent-7";
  CoordinatorRateGate gate(o, sluice::v1::ThrottlerService::NewStub(server.channel()),
                           SystemClock::Get());
  gate.Start();
  auto permit = gate.Acquire(kRoute, SystemClock::Get()->Now() + milliseconds(300));
  ASSERT_FALSE(permit.ok()) << "never call upstream without a token";
  EXPECT_EQ(permit.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(gate.stats().lease_errors, 1);
  EXPECT_LE(gate.stats().lease_errors, 5) << "errors back off";
  gate.Shutdown();
}

// A coordinator took over (a newer incarnation): the tokens of the old one's
// leases are dropped, and once the call made on one of them is reported the
// next batch says so, listing the calls that failed.
TEST_F(CoordinatorRateGateTest, ATakeoverIsConfirmedOnceTheOldLeasesCallsAreReported) {
  throttler_.arming = false;
  throttler_.incarnation = 4;
  auto& gate = MakeGate(4, /*start=*/true, /*arm_chunk=*/0);
  auto old_call = gate.Acquire(kRoute, In(seconds(5)));
  ASSERT_TRUE(old_call.ok());
  EXPECT_EQ(old_call->incarnation, 4u);
  // Nothing of an older one is out: said at once (this coordinator may have
  // taken over from one this agent never leased from).
  ASSERT_TRUE(WaitFor([&] { return throttler_.settlements().size() == 1; }));
  EXPECT_EQ(throttler_.settlements()[0].settled_before_incarnation(), 4u);

  throttler_.incarnation = 5;
  const Route other{"esi", "/universe/types/{id}/"};
  auto new_call = gate.Acquire(other, In(seconds(5)));  // leases from the new one
  ASSERT_TRUE(new_call.ok());
  EXPECT_EQ(new_call->incarnation, 5u);
  // The old lease's three unspent tokens are dropped (returned), not spent.
  EXPECT_TRUE(WaitFor([&] { return throttler_.returned() == 3; }));
  auto next = gate.Acquire(kRoute, In(seconds(5)));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->incarnation, 5u);
  EXPECT_NE(next->lease_id, old_call->lease_id);
  // The old call is still out: nothing more said.
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_EQ(throttler_.settlements().size(), 1u);

  UpstreamObservation o;
  o.route = kRoute;
  o.status = 503;
  o.lease_id = old_call->lease_id;
  o.incarnation = old_call->incarnation;
  o.sent_at = std::chrono::steady_clock::now() - milliseconds(300);
  o.received_at = std::chrono::steady_clock::now() - milliseconds(100);
  gate.Report(o);
  ASSERT_TRUE(WaitFor([&] { return throttler_.settlements().size() == 2; }));
  std::this_thread::sleep_for(milliseconds(100));
  auto all = throttler_.settlements();
  ASSERT_EQ(all.size(), 2u) << "said once, once delivered";
  const auto& settled = all[1];
  EXPECT_EQ(settled.settled_before_incarnation(), 5u);
  ASSERT_EQ(settled.settled_errors_size(), 1);
  EXPECT_EQ(settled.settled_errors(0).status(), 503);
  EXPECT_EQ(settled.settled_errors(0).route().egress(), "198.51.100.7");
  EXPECT_GE(FromProtoDuration(settled.settled_errors(0).response_age()), milliseconds(100));
  EXPECT_GT(FromProtoDuration(settled.settled_errors_cover()), Duration::zero());
  EXPECT_TRUE(settled.settled_errors_since_start());  // a young process
  // The process that held the calls, as its leases named it.
  EXPECT_EQ(settled.agent_instance().size(), 16u);
  EXPECT_EQ(settled.agent_instance(), throttler_.lease_requests()[0].agent_instance());
  // Observations go before the settlement that counts them.
  bool seen = false;
  for (const auto& sent : throttler_.observations()) seen |= sent.status() == 503;
  EXPECT_TRUE(seen);
}

TEST_F(CoordinatorRateGateTest, ALeaseOfAnOlderIncarnationIsNeverSpent) {
  throttler_.incarnation = 5;
  throttler_.grant = 1;
  auto& gate = MakeGate(1, /*start=*/true, /*arm_chunk=*/0);
  ASSERT_TRUE(gate.Acquire(kRoute, In(seconds(5))).ok());
  throttler_.incarnation = 4;  // a deposed coordinator still answering
  EXPECT_FALSE(gate.Acquire(kRoute, In(milliseconds(300))).ok());
  EXPECT_GE(gate.stats().stale_leases, 1);
}

}  // namespace
}  // namespace sluice::agent
