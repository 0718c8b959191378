// ObservationReporter on its own, against a fake ThrottlerService over real
// gRPC and an in-memory source of token returns.
#include "agent/throttle/observation_reporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "tests/agent/fakes.h"

namespace sluice::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using testing::FakeThrottler;
using testing::GrpcTestServer;
using ::testing::IsEmpty;
using testing::WaitFor;

// Returns owed by a pretend ledger.
class FakeReturns final : public TokenReturnSource {
 public:
  void Owe(int64_t lease_id, int32_t unspent) {
    std::lock_guard<std::mutex> lock(mu_);
    owed_.push_back({lease_id, unspent});
  }
  std::vector<TokenReturnEntry> TakeReturns() override {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(owed_, {});
  }
  void RestoreReturns(const std::vector<TokenReturnEntry>& returns) override {
    std::lock_guard<std::mutex> lock(mu_);
    owed_.insert(owed_.end(), returns.begin(), returns.end());
    ++restored_;
  }
  bool HasReturns() override {
    std::lock_guard<std::mutex> lock(mu_);
    return !owed_.empty();
  }
  int restored() const {
    std::lock_guard<std::mutex> lock(mu_);
    return restored_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<TokenReturnEntry> owed_;
  int restored_ = 0;
};

// Observations are told apart by their lease id.
sluice::v1::Observation Observation(int64_t lease_id) {
  sluice::v1::Observation o;
  o.mutable_route()->set_upstream("esi");
  o.mutable_route()->set_route("/alliances/{id}/");
  o.set_status(200);
  o.set_lease_id(lease_id);
  return o;
}

class ObservationReporterTest : public ::testing::Test {
 protected:
  ObservationReporterTest()
      : throttler_(SystemClock::Get()),
        server_({&throttler_}),
        stub_(sluice::v1::ThrottlerService::NewStub(server_.channel())) {
    options_.agent_id = "agent-7";
    options_.report_interval = milliseconds(20);
  }
  ~ObservationReporterTest() override {
    reporter_.reset();
    throttler_.Stop();
  }

  ObservationReporter& Make(bool start = true) {
    reporter_ = std::make_unique<ObservationReporter>(options_, stub_.get(), &returns_);
    if (start) reporter_->Start();
    return *reporter_;
  }

  void Add(int64_t lease_id) {
    reporter_->Add(Observation(lease_id), std::chrono::steady_clock::now(),
                   std::chrono::steady_clock::now());
  }

  std::vector<int64_t> SentKeys() const {
    std::vector<int64_t> keys;
    for (const auto& o : throttler_.observations()) keys.push_back(o.lease_id());
    return keys;
  }

  ObservationReporterOptions options_;
  FakeThrottler throttler_;
  GrpcTestServer server_;
  std::unique_ptr<sluice::v1::ThrottlerService::Stub> stub_;
  FakeReturns returns_;
  std::unique_ptr<ObservationReporter> reporter_;
};

TEST_F(ObservationReporterTest, SendsObservationsWithTheReturnsItIsHanded) {
  ObservationReporter& reporter = Make();
  returns_.Owe(5, 2);
  Add(1);
  Add(2);
  ASSERT_TRUE(WaitFor([&] { return throttler_.observations().size() == 2; }));
  EXPECT_THAT(SentKeys(), ElementsAre(1, 2));
  EXPECT_TRUE(WaitFor([&] { return throttler_.returned() == 2; }));
  // The server has the batch before the reporter has its answer.
  EXPECT_TRUE(WaitFor([&] { return reporter.stats().observations_sent == 2; }));
  ObservationReporter::Stats s = reporter.stats();
  EXPECT_EQ(s.observations_sent, 2);
  EXPECT_EQ(s.tokens_returned, 2);
  EXPECT_EQ(s.report_errors, 0);
  EXPECT_FALSE(returns_.HasReturns());
}

TEST_F(ObservationReporterTest, AFailedBatchIsKeptInOrderWithItsReturns) {
  throttler_.report_batch_code = static_cast<int>(grpc::StatusCode::UNAVAILABLE);
  ObservationReporter& reporter = Make();
  returns_.Owe(9, 3);
  Add(1);
  ASSERT_TRUE(WaitFor([&] { return reporter.stats().report_errors >= 1; }));
  EXPECT_GE(returns_.restored(), 1);
  Add(2);
  throttler_.report_batch_code = 0;
  ASSERT_TRUE(WaitFor([&] { return throttler_.observations().size() == 2; }));
  EXPECT_THAT(SentKeys(), ElementsAre(1, 2)) << "the kept batch goes first";
  EXPECT_TRUE(WaitFor([&] { return throttler_.returned() == 3; }));
}

TEST_F(ObservationReporterTest, ARejectedBatchIsDroppedAndItsReturnsGoAlone) {
  throttler_.report_batch_code = static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT);
  ObservationReporter& reporter = Make();
  returns_.Owe(4, 1);
  Add(1);
  ASSERT_TRUE(WaitFor([&] { return reporter.stats().observations_rejected == 1; }));
  throttler_.report_batch_code = 0;
  EXPECT_TRUE(WaitFor([&] { return throttler_.returned() == 1; }));
  std::this_thread::sleep_for(milliseconds(100));
  EXPECT_THAT(throttler_.observations(), IsEmpty());
  EXPECT_EQ(reporter.stats().report_errors, 0);
}

TEST_F(ObservationReporterTest, OverflowDropsTheOldestAndStopFlushesTheRest) {
  options_.max_queued_observations = 3;
  ObservationReporter& reporter = Make(/*start=*/false);
  for (int i = 1; i <= 5; ++i) Add(i);
  EXPECT_EQ(reporter.stats().observations_dropped, 2);
  returns_.Owe(6, 4);
  reporter.Stop();
  EXPECT_THAT(SentKeys(), ElementsAre(3, 4, 5));
  EXPECT_EQ(throttler_.returned(), 4);
  reporter.Stop();  // idempotent
}

TEST_F(ObservationReporterTest, AFullBatchGoesBeforeTheInterval) {
  options_.report_interval = seconds(30);
  options_.report_batch = 4;
  Make();
  for (int i = 1; i <= 4; ++i) Add(i);
  EXPECT_TRUE(WaitFor([&] { return throttler_.observations().size() == 4; }, seconds(3)));
}

TEST_F(ObservationReporterTest, StopFlushesWithoutWaitingForTheInterval) {
  options_.report_interval = seconds(30);
  ObservationReporter& reporter = Make();
  Add(1);
  returns_.Owe(8, 5);
  reporter.Stop();
  EXPECT_THAT(SentKeys(), ElementsAre(1));
  EXPECT_EQ(throttler_.returned(), 5);
}

}  // namespace
}  // namespace sluice::agent
