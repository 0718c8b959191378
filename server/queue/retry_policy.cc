#include "server/queue/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace sluice {

RetryPolicy::RetryPolicy(RetryPolicyOptions options)
    : options_(options), rng_(std::random_device{}()) {}

bool RetryPolicy::IsInvalidRequest(int s) {
  return s >= 400 && s < 500 && s != 408 && s != 420 && s != 425 && s != 429;
}

bool RetryPolicy::IsBadBody(int s) { return s >= 200 && s < 300; }

RetryDecision RetryPolicy::Decide(int attempts, const Failure& f) {
  RetryDecision d;
  if (f.permanent || f.http_status == 404 || f.http_status == 410 ||
      attempts >= options_.max_attempts ||
      (IsInvalidRequest(f.http_status) && attempts >= options_.permanent_4xx_after) ||
      (IsBadBody(f.http_status) && attempts >= options_.permanent_bad_body_after)) {
    d.dead = true;
    return d;
  }
  double base = std::chrono::duration<double>(options_.backoff_base).count() *
                std::pow(2.0, std::min(attempts - 1, 30));
  base = std::min(base, std::chrono::duration<double>(options_.backoff_max).count());
  double jitter;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jitter = std::uniform_real_distribution<double>(0.5, 1.5)(rng_);
  }
  const Duration backoff =
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(base * jitter));
  d.delay = std::max(backoff, f.retry_after);
  if (IsBadBody(f.http_status)) d.delay = std::max(d.delay, options_.bad_body_retry_after);
  return d;
}

}  // namespace sluice
