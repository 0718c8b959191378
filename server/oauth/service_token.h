// ServiceTokenSource keeps one client-credentials access token (RFC 6749
// section 4.4) valid for the coordinator: GGG's service token for the PoE
// streams (scopes service:psapi / service:cxapi; pathofexile.com
// developer/docs/authorization, "Client Credentials Grant"). A background
// thread fetches it at start and again before it expires (its expires_in
// less a margin, at most a quarter of its lifetime; a token without an
// expiry is fetched again after max_age), backing off with jitter
// (RetryPolicy) while the token endpoint fails. Agents never see the
// client secret: they are handed the token with their lease
// (server/workflows/streams/).
//
// Ownership: shares the endpoint client. Thread-safety: Current(),
// fetches() from any thread; Start/Stop from the owner's.
#ifndef SLUICE_SERVER_OAUTH_SERVICE_TOKEN_H_
#define SLUICE_SERVER_OAUTH_SERVICE_TOKEN_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "server/oauth/token_endpoint.h"
#include "server/queue/retry_policy.h"

namespace sluice::oauth {

struct ServiceTokenOptions {
  Duration margin = std::chrono::minutes(5);
  Duration max_age = std::chrono::hours(24);
  Duration backoff_base = std::chrono::seconds(2);
  Duration backoff_max = std::chrono::minutes(5);
};

class ServiceTokenSource {
 public:
  ServiceTokenSource(std::shared_ptr<const TokenEndpointClient> endpoint,
                     std::vector<std::string> scopes, const Clock* clock,
                     ServiceTokenOptions options = {});
  ~ServiceTokenSource();

  struct Token {
    std::string access_token;
    TimePoint expires_at;  // fetched + max_age when the endpoint gave no expiry
  };
  // The current token if it has not expired; else nullopt, and `problem`
  // (if given) says why (not fetched yet, the last error).
  std::optional<Token> Current(std::string* problem = nullptr) const;
  const std::string& client_id() const { return endpoint_->client_id(); }
  const std::vector<std::string>& scopes() const { return scopes_; }
  int64_t fetches() const { return fetches_.load(); }

  // One fetch now (tests; the loop calls it when due).
  absl::Status FetchNow();

  void Start();
  void Stop();

 private:
  void Loop();

  const std::shared_ptr<const TokenEndpointClient> endpoint_;
  const std::vector<std::string> scopes_;
  const Clock* const clock_;
  const ServiceTokenOptions options_;
  RetryPolicy backoff_;
  std::atomic<int64_t> fetches_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::optional<Token> token_;  // guarded by mu_
  TimePoint refresh_at_{};      // guarded by mu_
  std::string last_error_;      // guarded by mu_
  int failures_ = 0;            // guarded by mu_
  bool stop_ = false;           // guarded by mu_
  std::thread thread_;
};

}  // namespace sluice::oauth

#endif  // SLUICE_SERVER_OAUTH_SERVICE_TOKEN_H_
