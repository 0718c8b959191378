// RetryPolicy is the one rule for what a failed task does next: entities
// that do not exist die at once, invalid requests die on their third try,
// throttling and server errors back off (never below Retry-After) until the
// task is out of attempts.
#include "server/queue/retry_policy.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using std::chrono::seconds;

Failure Http(int status, Duration retry_after = Duration::zero()) {
  Failure f;
  f.http_status = status;
  f.retry_after = retry_after;
  return f;
}

TEST(RetryPolicyTest, MissingEntityIsDeadAtOnce) {
  RetryPolicy policy(RetryPolicyOptions{});
  EXPECT_TRUE(policy.Decide(1, Http(404)).dead);
  EXPECT_TRUE(policy.Decide(1, Http(410)).dead);
}

TEST(RetryPolicyTest, InvalidRequestDiesOnItsThirdAttempt) {
  RetryPolicyOptions o;
  RetryPolicy policy(o);
  for (int status : {400, 401, 403, 422}) {
    SCOPED_TRACE(status);
    for (int attempt = 1; attempt < o.permanent_4xx_after; ++attempt) {
      EXPECT_FALSE(policy.Decide(attempt, Http(status)).dead);
    }
    EXPECT_TRUE(policy.Decide(o.permanent_4xx_after, Http(status)).dead);
  }
}

TEST(RetryPolicyTest, AnUnreadableAnswerIsFetchedOnceMoreAfterAPauseThenGivenUp) {
  RetryPolicyOptions o;
  RetryPolicy policy(o);
  for (int status : {200, 203}) {
    SCOPED_TRACE(status);
    RetryDecision first = policy.Decide(1, Http(status));
    EXPECT_FALSE(first.dead);
    // Long enough for a burst of garbled answers to pass.
    EXPECT_GE(first.delay, o.bad_body_retry_after);
    EXPECT_TRUE(policy.Decide(2, Http(status)).dead);
  }
}

TEST(RetryPolicyTest, ThrottlingAndServerErrorsNeverDieBeforeMaxAttempts) {
  RetryPolicyOptions o;
  RetryPolicy policy(o);
  for (int status : {0, 408, 420, 425, 429, 500, 502, 503, 504}) {
    SCOPED_TRACE(status);
    for (int attempt = 1; attempt < o.max_attempts; ++attempt) {
      EXPECT_FALSE(policy.Decide(attempt, Http(status)).dead);
    }
    EXPECT_TRUE(policy.Decide(o.max_attempts, Http(status)).dead);
  }
}

TEST(RetryPolicyTest, AgentsPermanentVerdictIsKept) {
  RetryPolicy policy(RetryPolicyOptions{});
  Failure f = Http(200);
  f.permanent = true;
  EXPECT_TRUE(policy.Decide(1, f).dead);
}

TEST(RetryPolicyTest, BackoffGrowsWithJitterAndNeverUndercutsRetryAfter) {
  RetryPolicyOptions o;
  o.backoff_base = seconds(2);
  o.backoff_max = seconds(60);
  RetryPolicy policy(o);
  for (int attempt = 1; attempt <= 5; ++attempt) {
    const Duration d = policy.Decide(attempt, Http(503)).delay;
    const Duration nominal = o.backoff_base * (1 << (attempt - 1));
    EXPECT_GE(d, nominal / 2) << attempt;
    EXPECT_LE(d, nominal * 3 / 2) << attempt;
  }
  EXPECT_LE(policy.Decide(9, Http(503)).delay, o.backoff_max * 3 / 2);
  EXPECT_GE(policy.Decide(1, Http(429, seconds(45))).delay, seconds(45));
}

}  // namespace
}  // namespace sluice
