#include "server/oauth/service_token.h"

#include <glog/logging.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_join.h"
#include "server/queue/queue_types.h"

namespace sluice::oauth {
namespace {

RetryPolicyOptions BackoffOf(const ServiceTokenOptions& o) {
  RetryPolicyOptions r;
  r.max_attempts = std::numeric_limits<int>::max();
  r.permanent_4xx_after = std::numeric_limits<int>::max();
  r.backoff_base = o.backoff_base;
  r.backoff_max = o.backoff_max;
  return r;
}

}  // namespace

ServiceTokenSource::ServiceTokenSource(std::shared_ptr<const TokenEndpointClient> endpoint,
                                       std::vector<std::string> scopes, const Clock* clock,
                                       ServiceTokenOptions options)
    : endpoint_(std::move(endpoint)),
      scopes_(std::move(scopes)),
      clock_(clock),
      options_(options),
      backoff_(BackoffOf(options)) {}

ServiceTokenSource::~ServiceTokenSource() { Stop(); }

std::optional<ServiceTokenSource::Token> ServiceTokenSource::Current(std::string* problem) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (token_ && token_->expires_at > clock_->Now()) return token_;
  if (problem != nullptr) {
    *problem = "no PoE service token" +
               std::string(last_error_.empty() ? " yet (the coordinator is fetching one)"
                                               : ": " + last_error_);
  }
  return std::nullopt;
}

absl::Status ServiceTokenSource::FetchNow() {
  absl::StatusOr<TokenGrant> grant = endpoint_->ClientCredentials(scopes_);
  const TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  if (!grant.ok()) {
    ++failures_;
    last_error_ = std::string(grant.status().message());
    Failure f;
    f.http_status = 503;
    refresh_at_ = now + backoff_.Decide(failures_, f).delay;
    return grant.status();
  }
  const Duration lifetime = grant->expires_in.value_or(options_.max_age);
  token_ = Token{grant->access_token, now + lifetime};
  refresh_at_ = token_->expires_at - std::min(options_.margin, lifetime / 4);
  failures_ = 0;
  last_error_.clear();
  fetches_.fetch_add(1);
  return absl::OkStatus();
}

void ServiceTokenSource::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void ServiceTokenSource::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ServiceTokenSource::Loop() {
  for (;;) {
    bool due;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      due = clock_->Now() >= refresh_at_;
    }
    if (due) {
      absl::Status s = FetchNow();
      if (!s.ok()) {
        LOG(WARNING) << "service token (" << absl::StrJoin(scopes_, " ") << ") from "
                     << endpoint_->token_url() << ": " << s.message();
      } else {
        LOG(INFO) << "service token (" << absl::StrJoin(scopes_, " ") << ") fetched";
      }
    }
    std::unique_lock<std::mutex> lock(mu_);
    // Short waits: the clock may be a test's, and a due time is never far.
    if (cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return stop_; })) return;
  }
}

}  // namespace sluice::oauth
