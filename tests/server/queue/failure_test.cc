// Failures: transient ones back off (at least Retry-After), repeated invalid
// 4xx and exhausted attempts become permanent and are kept in dead_tasks.
#include "tests/server/queue/queue_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

class FailureTest : public QueueFixture {
 protected:
  absl::StatusOr<FailureOutcome> LeaseAndFail(int http_status, Duration retry_after,
                                              bool permanent = false) {
    auto t = LeaseOrDie({"character"}, 1);
    if (t.empty()) return absl::NotFoundError("nothing to lease");
    Failure f;
    f.task_id = t[0].task_id;
    f.fencing_token = t[0].fencing_token;
    f.agent_id = "agent-a";
    f.http_status = http_status;
    f.retry_after = retry_after;
    f.permanent = permanent;
    f.error = "HTTP " + std::to_string(http_status);
    return queue_->Fail(f);
  }
};

TEST_F(FailureTest, TransientFailureBacksOffAtLeastRetryAfter) {
  ASSERT_TRUE(queue_->Enqueue("character", {1}, Priority::kManual).ok());
  auto out = LeaseAndFail(503, seconds(120));
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE(out->retry_at.has_value());
  EXPECT_GE(*out->retry_at - clock_.Now(), seconds(120));
  EXPECT_TRUE(LeaseOrDie({"character"}, 1).empty()) << "claimable during its backoff";
  clock_.Advance(*out->retry_at - clock_.Now() + seconds(1));
  EXPECT_EQ(LeaseOrDie({"character"}, 1).size(), 1u);
}

TEST_F(FailureTest, BackoffGrowsWithAttempts) {
  ASSERT_TRUE(queue_->Enqueue("character", {1}, Priority::kManual).ok());
  Duration last{0};
  for (int i = 1; i <= 5; ++i) {
    auto out = LeaseAndFail(500, Duration::zero());
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->attempts, i);
    Duration wait = *out->retry_at - clock_.Now();
    // Jitter is 0.5x..1.5x of base * 2^(n-1): ranges of consecutive attempts
    // overlap, but attempt n+2 always waits longer than attempt n.
    EXPECT_GE(wait, options_.retry.backoff_base * (1 << (i - 1)) / 2);
    EXPECT_LE(wait, options_.retry.backoff_base * (1 << (i - 1)) * 3 / 2);
    last = wait;
    clock_.Advance(wait + seconds(1));
  }
}

TEST_F(FailureTest, RepeatedInvalid4xxBecomesPermanent) {
  ASSERT_TRUE(queue_->Enqueue("character", {1}, Priority::kManual).ok());
  for (int i = 1; i < options_.retry.permanent_4xx_after; ++i) {
    auto out = LeaseAndFail(400, Duration::zero());
    ASSERT_TRUE(out.ok());
    EXPECT_FALSE(out->dead);
    clock_.Advance(*out->retry_at - clock_.Now() + seconds(1));
  }
  auto out = LeaseAndFail(400, Duration::zero());
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->dead);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue"), 0);
  EXPECT_EQ(db_->Query("SELECT http_status FROM dead_tasks WHERE entity_id = 1"), "400");
}

TEST_F(FailureTest, RateLimitResponsesAreNeverPermanent) {
  ASSERT_TRUE(queue_->Enqueue("character", {1}, Priority::kManual).ok());
  for (int i = 1; i <= 5; ++i) {
    auto out = LeaseAndFail(i % 2 ? 429 : 420, seconds(1));
    ASSERT_TRUE(out.ok());
    EXPECT_FALSE(out->dead) << "attempt " << i;
    clock_.Advance(*out->retry_at - clock_.Now() + seconds(1));
  }
}

TEST_F(FailureTest, ReleaseCountsNoAttemptAndIsReadyAgain) {
  ASSERT_TRUE(queue_->Enqueue("character", {1}, Priority::kManual).ok());
  for (int i = 0; i < 3; ++i) {
    auto t = LeaseOrDie({"character"}, 1);
    ASSERT_EQ(t.size(), 1u) << "released task not ready again";
    Failure f;
    f.task_id = t[0].task_id;
    f.fencing_token = t[0].fencing_token;
    f.release = true;
    f.error = "agent draining";
    auto out = queue_->Fail(f);
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ(out->attempts, 0);
    EXPECT_FALSE(out->dead);
  }
  EXPECT_EQ(db_->Query("SELECT attempts FROM discovery_queue"), "0");
  Failure both;
  both.task_id = 1;
  both.fencing_token = 1;
  both.release = true;
  both.permanent = true;
  EXPECT_EQ(queue_->Fail(both).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FailureTest, PermanentFailureIsKeptInDeadTasks) {
  ASSERT_TRUE(queue_->Enqueue("character", {1}, Priority::kManual).ok());
  auto out = LeaseAndFail(404, Duration::zero(), /*permanent=*/true);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->dead);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM dead_tasks"), 1);
  EXPECT_EQ(db_->Query("SELECT error FROM dead_tasks"), "HTTP 404");
}

TEST_F(FailureTest, OutOfAttemptsIsDead) {
  options_.retry.max_attempts = 3;
  ResetQueue();
  ASSERT_TRUE(queue_->Enqueue("character", {1}, Priority::kManual).ok());
  for (int i = 1; i <= 3; ++i) {
    auto out = LeaseAndFail(503, Duration::zero());
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(out->dead, i == 3);
    if (out->retry_at) clock_.Advance(*out->retry_at - clock_.Now() + seconds(1));
  }
  EXPECT_EQ(db_->Count("SELECT count(*) FROM dead_tasks"), 1);
}

}  // namespace
}  // namespace sluice::testing
