// The coordinator's OAuth clients, from its flags: EVE SSO (character
// tokens for killmail sync, refreshed by the coordinator) and GGG's OAuth
// server (a client-credentials service token for the PoE streams). One home
// for these flags; main() only lists them and hands the clients on.
//
//   --eve_sso_client_id, --eve_sso_client_secret_file (or the secret by env),
//   --eve_sso_token_url (default EVE's real one),
//   --poe_client_id, --poe_client_secret_file, --poe_token_url (default GGG's),
//   --contact (the operator's address, in the coordinator's User-Agent).
//
// Thread-safety: call from main() only.
#ifndef SLUICE_SERVER_OAUTH_OAUTH_FLAGS_H_
#define SLUICE_SERVER_OAUTH_OAUTH_FLAGS_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/oauth/token_endpoint.h"

namespace sluice::oauth {

// EVE SSO's token endpoint (esi-docs, SSO/refreshing_access_tokens.md).
inline constexpr char kEveSsoTokenUrl[] = "https://login.eveonline.com/v2/oauth/token";
// GGG's (pathofexile.com/developer/docs/authorization, "OAuth Server Endpoints").
inline constexpr char kPoeTokenUrl[] = "https://www.pathofexile.com/oauth/token";

struct OAuthClients {
  // Null when not configured (no client id).
  std::shared_ptr<const TokenEndpointClient> eve_sso;
  std::shared_ptr<const TokenEndpointClient> poe;
};

// (flag, ENV_VAR) pairs, and the secret flags among them, for InitProcess.
std::vector<std::pair<std::string, std::string>> OAuthFlagEnv();
std::vector<std::string> OAuthSecretFlags();

// INVALID_ARGUMENT naming the flag when a client id comes without its secret
// (or the reverse), or a token URL is not http(s).
absl::StatusOr<OAuthClients> OAuthClientsFromFlags();

// "sluice-coordinator/<version> (+contact: <contact>)": ESI asks for a way to
// reach the operator (esi-docs, docs/services/esi/best-practices.md).
std::string CoordinatorUserAgent();

// --eve_sso_refresh_margin_s.
int EveSsoRefreshMarginSeconds();

}  // namespace sluice::oauth

#endif  // SLUICE_SERVER_OAUTH_OAUTH_FLAGS_H_
