// TokenEndpointClient talks to one OAuth 2.0 token endpoint (RFC 6749
// section 3.2) for the coordinator: EVE SSO's (authorization_code and
// refresh_token grants, client authenticated with HTTP Basic; esi-docs,
// docs/services/sso and SSO/refreshing_access_tokens.md) and GGG's
// (client_credentials, client id and secret in the form body; pathofexile.com
// developer/docs/authorization). Only the coordinator calls token endpoints:
// agents are handed access tokens with their leases.
//
// Answers are classified for the caller, by status code:
//   OK                   a TokenGrant;
//   FAILED_PRECONDITION  "invalid_grant": the refresh token or code is dead
//                        (revoked, expired, used) and will never work again;
//   PERMISSION_DENIED    any other OAuth error (invalid_client, invalid_scope,
//                        unauthorized_client, ...): the application's own
//                        configuration is wrong, no token's fault;
//   UNAVAILABLE / DEADLINE_EXCEEDED
//                        a transport failure, a timeout, a 5xx or 429: try
//                        again later;
//   DATA_LOSS            a 2xx whose body is not a token response (also
//                        transient: a proxy's page is nobody's token).
// Messages carry the endpoint's error and error_description, never a token
// or the secret.
//
// Ownership: owns its HTTP client. Thread-safety: Exchange may be called from
// any thread (CurlClient is thread-safe; the rest is immutable).
#ifndef SLUICE_SERVER_OAUTH_TOKEN_ENDPOINT_H_
#define SLUICE_SERVER_OAUTH_TOKEN_ENDPOINT_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/http/curl_client.h"
#include "common/clock.h"

namespace sluice::oauth {

// How the client proves who it is (RFC 6749 section 2.3.1).
enum class ClientAuth {
  kBasic,     // Authorization: Basic base64(id:secret) (EVE SSO)
  kFormBody,  // client_id and client_secret in the form (GGG)
};

struct TokenEndpointConfig {
  std::string token_url;
  std::string client_id;
  std::string client_secret;
  ClientAuth auth = ClientAuth::kBasic;
  std::string user_agent;
  std::chrono::milliseconds timeout{15000};
};

// A successful token response (RFC 6749 section 5.1).
struct TokenGrant {
  std::string access_token;
  std::string token_type;
  // expires_in; nullopt when the endpoint sent none or null (GGG's
  // client-credentials tokens may not expire).
  std::optional<Duration> expires_in;
  // A refresh token, when one came (EVE may rotate it: store what came).
  std::string refresh_token;
  // `scope`, split on spaces; empty when absent.
  std::vector<std::string> scopes;
};

// Parses a token endpoint's answer (status and body) as classified above.
// Pure: unit-tested without a server.
absl::StatusOr<TokenGrant> ParseTokenResponse(int http_status, const std::string& body);

// application/x-www-form-urlencoded (RFC 6749 appendix B).
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

// True for the classes above worth retrying later.
bool IsTransientTokenError(const absl::Status& s);

class TokenEndpointClient {
 public:
  // INVALID_ARGUMENT for a token_url that is not http(s), or an empty
  // client id or secret.
  static absl::StatusOr<std::unique_ptr<TokenEndpointClient>> Create(TokenEndpointConfig config);

  // grant_type=refresh_token.
  absl::StatusOr<TokenGrant> Refresh(const std::string& refresh_token) const;
  // grant_type=authorization_code.
  absl::StatusOr<TokenGrant> ExchangeCode(const std::string& code) const;
  // grant_type=client_credentials with these scopes (space-separated).
  absl::StatusOr<TokenGrant> ClientCredentials(const std::vector<std::string>& scopes) const;

  const std::string& client_id() const { return config_.client_id; }
  const std::string& token_url() const { return config_.token_url; }

 private:
  explicit TokenEndpointClient(TokenEndpointConfig config);
  absl::StatusOr<TokenGrant> Exchange(std::vector<std::pair<std::string, std::string>> fields,
                                      const char* what) const;

  const TokenEndpointConfig config_;
  std::unique_ptr<agent::CurlClient> http_;
};

}  // namespace sluice::oauth

#endif  // SLUICE_SERVER_OAUTH_TOKEN_ENDPOINT_H_
