// RetryPolicy is the one place that decides what a failed task does next:
// wait and retry, or die (move to dead_tasks). Agents report what happened
// (HTTP status, Retry-After, whether the upstream was called at all); the
// rule is here:
//   * 404 and 410 (the entity does not exist) are permanent at once;
//   * another 4xx (an invalid request: 400, 401, 403, ...), other than the
//     throttling answers 408/420/425/429, is permanent on its
//     `permanent_4xx_after`-th attempt: repeating an invalid request only
//     burns budget;
//   * a failed 2xx (the agent could not read the body: truncated in
//     transit, it says; a schema break comes as Failure::permanent) is
//     permanent on its `permanent_bad_body_after`-th attempt: fetched once
//     more, then given up on. The fetch again waits `bad_body_retry_after`
//     at least: an upstream garbling every answer for a while (a proxy's
//     error page served as a 200) is not the entity's fault, and a burst
//     shorter than that costs no entity;
//   * a task out of attempts is dead;
//   * otherwise: exponential backoff with jitter, never shorter than the
//     upstream's Retry-After.
// An agent may still fail a task permanently for a reason of its own (a
// handler that knows a body will never parse); that is Failure::permanent.
//
// Thread-safety: Decide may be called from any thread.
#ifndef SLUICE_SERVER_QUEUE_RETRY_POLICY_H_
#define SLUICE_SERVER_QUEUE_RETRY_POLICY_H_

#include <mutex>
#include <random>

#include "common/clock.h"
#include "server/queue/queue_types.h"

namespace sluice {

struct RetryPolicyOptions {
  int max_attempts = 10;
  Duration backoff_base = std::chrono::seconds(2);
  Duration backoff_max = std::chrono::minutes(15);
  int permanent_4xx_after = 3;
  int permanent_bad_body_after = 2;
  Duration bad_body_retry_after = std::chrono::seconds(60);
};

struct RetryDecision {
  Duration delay{0};
  bool dead = false;
};

class RetryPolicy {
 public:
  explicit RetryPolicy(RetryPolicyOptions options);

  // `attempts` counts this failure.
  RetryDecision Decide(int attempts, const Failure& failure);

  // True for statuses that say "this request is wrong", not "try later".
  static bool IsInvalidRequest(int http_status);
  // True for a failure reported with a 2xx: the answer came, its body did not
  // parse.
  static bool IsBadBody(int http_status);

 private:
  const RetryPolicyOptions options_;
  std::mutex mu_;
  std::mt19937_64 rng_;  // jitter; guarded by mu_
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_RETRY_POLICY_H_
