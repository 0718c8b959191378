#include "server/workflows/killmails/sso_refresher.h"

#include <glog/logging.h>

#include <limits>

#include "absl/strings/str_cat.h"
#include "common/jwt_claims.h"
#include "common/rfc3339.h"
#include "server/queue/queue_types.h"

namespace sluice {
namespace {

RetryPolicyOptions BackoffOf(const SsoRefresherOptions& o) {
  RetryPolicyOptions r;
  r.max_attempts = std::numeric_limits<int>::max();
  r.permanent_4xx_after = std::numeric_limits<int>::max();
  r.backoff_base = o.backoff_base;
  r.backoff_max = o.backoff_max;
  return r;
}

absl::Status CheckInput(const std::string& field, const std::string& value) {
  if (value.empty()) return absl::InvalidArgumentError(field + " is required");
  if (value.size() > CharacterTokenStore::kMaxTokenLength) {
    return absl::InvalidArgumentError(field + ": at most " +
                                      std::to_string(CharacterTokenStore::kMaxTokenLength) +
                                      " characters");
  }
  for (char ch : value) {
    if (ch <= 0x20 || ch >= 0x7f) {
      return absl::InvalidArgumentError(field + ": only printable ASCII without spaces is allowed");
    }
  }
  return absl::OkStatus();
}

}  // namespace

SsoRefresher::SsoRefresher(CharacterTokenStore* store, const oauth::TokenEndpointClient* sso,
                           const Clock* clock, SsoRefresherOptions options)
    : store_(store), sso_(sso), clock_(clock), options_(options), backoff_(BackoffOf(options)) {}

SsoRefresher::~SsoRefresher() { Stop(); }

absl::StatusOr<RefreshedToken> SsoRefresher::ToStored(int64_t character_id,
                                                      const oauth::TokenGrant& grant,
                                                      const std::string& used) const {
  absl::StatusOr<JwtClaims> claims = ParseJwtClaims(grant.access_token);
  if (!claims.ok()) {
    return absl::DataLossError("the SSO's access token: " + std::string(claims.status().message()));
  }
  std::optional<int64_t> owner = EveCharacterOfSubject(claims->subject);
  if (!owner) {
    return absl::DataLossError("the SSO's access token names no character (sub '" +
                               claims->subject.substr(0, 80) + "')");
  }
  if (*owner != character_id) {
    return absl::InvalidArgumentError(absl::StrCat("the token is character ", *owner,
                                                   "'s, not character ", character_id, "'s"));
  }
  RefreshedToken out;
  out.access_token = grant.access_token;
  if (claims->expires) {
    out.expires_at = *claims->expires;
  } else if (grant.expires_in) {
    out.expires_at = clock_->Now() + *grant.expires_in;
  } else {
    return absl::DataLossError("the SSO's access token says nothing of when it expires");
  }
  out.refresh_token = grant.refresh_token.empty() ? used : grant.refresh_token;
  out.scopes = !claims->scopes.empty() ? claims->scopes : grant.scopes;
  return out;
}

absl::StatusOr<bool> SsoRefresher::AddRefreshToken(int64_t character_id,
                                                   const std::string& refresh_token) {
  if (absl::Status s = CheckInput("refresh_token", refresh_token); !s.ok()) return s;
  absl::StatusOr<oauth::TokenGrant> grant = sso_->Refresh(refresh_token);
  if (!grant.ok()) return grant.status();
  absl::StatusOr<RefreshedToken> stored = ToStored(character_id, *grant, refresh_token);
  if (!stored.ok()) return stored.status();
  refreshes_.fetch_add(1);
  return store_->RegisterRefreshable(character_id, *stored);
}

absl::StatusOr<bool> SsoRefresher::AddAuthorizationCode(int64_t character_id,
                                                        const std::string& code) {
  if (absl::Status s = CheckInput("authorization_code", code); !s.ok()) return s;
  absl::StatusOr<oauth::TokenGrant> grant = sso_->ExchangeCode(code);
  if (!grant.ok()) return grant.status();
  if (grant->refresh_token.empty()) {
    return absl::DataLossError(
        "the SSO returned no refresh token for the code (was any scope requested?)");
  }
  absl::StatusOr<RefreshedToken> stored = ToStored(character_id, *grant, "");
  if (!stored.ok()) return stored.status();
  return store_->RegisterRefreshable(character_id, *stored);
}

absl::StatusOr<RefreshRound> SsoRefresher::RefreshDue() {
  absl::StatusOr<std::vector<DueRefresh>> due = store_->DueForRefresh(options_.margin,
                                                                      options_.batch);
  if (!due.ok()) return due.status();
  RefreshRound round;
  for (const DueRefresh& d : *due) {
    absl::StatusOr<oauth::TokenGrant> grant = sso_->Refresh(d.refresh_token);
    absl::StatusOr<RefreshedToken> stored =
        grant.ok() ? ToStored(d.character_id, *grant, d.refresh_token)
                   : absl::StatusOr<RefreshedToken>(grant.status());
    if (stored.ok()) {
      absl::StatusOr<bool> kept = store_->StoreRefreshed(d, *stored);
      if (!kept.ok()) return kept.status();
      refreshes_.fetch_add(1);
      ++round.refreshed;
      if (!*kept) LOG(INFO) << "character " << d.character_id << ": token replaced meanwhile";
      continue;
    }
    const absl::Status& s = stored.status();
    if (absl::IsFailedPrecondition(s) || absl::IsInvalidArgument(s)) {
      // invalid_grant, or a token that is now another character's: this
      // refresh token will never give this character a token again.
      const std::string reason = absl::StrCat(
          "refresh refused at ", FormatRfc3339(clock_->Now()), ": ", s.message());
      LOG(WARNING) << "character " << d.character_id << ": token disabled: " << reason;
      if (absl::Status ds = store_->Disable(d.character_id, &d, reason); !ds.ok()) return ds;
      ++round.disabled;
      continue;
    }
    Failure f;
    f.http_status = 503;
    const Duration delay = backoff_.Decide(d.failures + 1, f).delay;
    LOG(WARNING) << "character " << d.character_id << ": token refresh failed ("
                 << (d.failures + 1) << " in a row), next try in "
                 << std::chrono::duration_cast<std::chrono::seconds>(delay).count()
                 << " s: " << s.message();
    if (absl::Status fs = store_->RecordRefreshFailure(d, clock_->Now() + delay,
                                                       std::string(s.message()));
        !fs.ok()) {
      return fs;
    }
    ++round.failed;
  }
  return round;
}

void SsoRefresher::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void SsoRefresher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SsoRefresher::Loop() {
  for (;;) {
    absl::StatusOr<RefreshRound> round = RefreshDue();
    if (!round.ok()) {
      LOG(WARNING) << "token refresh round: " << round.status();
    } else if (round->refreshed + round->disabled + round->failed > 0) {
      VLOG(1) << "token refresh: " << round->refreshed << " refreshed, " << round->disabled
              << " disabled, " << round->failed << " backing off";
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, options_.poll, [this] { return stop_; })) return;
  }
}

}  // namespace sluice
