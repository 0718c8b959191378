#include "server/oauth/oauth_flags.h"

#include <gflags/gflags.h>

#include "absl/strings/str_cat.h"
#include "common/env_flags.h"
#include "common/version.h"

DEFINE_string(eve_sso_client_id, "",
              "EVE SSO application client id (developers.eveonline.com): with its secret, "
              "character tokens added with a refresh token are refreshed by the coordinator");
SLUICE_DEFINE_SECRET(eve_sso_client_secret, "EVE SSO application secret key");
DEFINE_string(eve_sso_token_url, sluice::oauth::kEveSsoTokenUrl,
              "EVE SSO token endpoint (the simulator's in tests)");
DEFINE_int32(eve_sso_refresh_margin_s, 300,
             "refresh an access token this long before its JWT exp (at most a quarter of its "
             "lifetime)");
DEFINE_string(poe_client_id, "",
              "GGG OAuth client id (a confidential client with the client_credentials grant): "
              "the PoE streams' service token, and the User-Agent GGG asks for");
SLUICE_DEFINE_SECRET(poe_client_secret, "GGG OAuth client secret");
DEFINE_string(poe_token_url, sluice::oauth::kPoeTokenUrl,
              "GGG OAuth token endpoint (the simulator's in tests)");
DEFINE_string(contact, "",
              "operator contact (e-mail) for User-Agents: the coordinator's own calls, and "
              "handed to agents for GGG's OAuth User-Agent");

namespace sluice::oauth {

std::vector<std::pair<std::string, std::string>> OAuthFlagEnv() {
  return {{"eve_sso_client_id", "SLUICE_EVE_SSO_CLIENT_ID"},
          {"eve_sso_client_secret", "SLUICE_EVE_SSO_CLIENT_SECRET"},
          {"eve_sso_token_url", "SLUICE_EVE_SSO_TOKEN_URL"},
          {"eve_sso_refresh_margin_s", "SLUICE_EVE_SSO_REFRESH_MARGIN_S"},
          {"poe_client_id", "SLUICE_POE_CLIENT_ID"},
          {"poe_client_secret", "SLUICE_POE_CLIENT_SECRET"},
          {"poe_token_url", "SLUICE_POE_TOKEN_URL"},
          {"contact", "SLUICE_CONTACT"}};
}

std::vector<std::string> OAuthSecretFlags() { return {"eve_sso_client_secret", "poe_client_secret"}; }

std::string CoordinatorUserAgent() {
  std::string ua = absl::StrCat("sluice-coordinator/", kVersion);
  if (!FLAGS_contact.empty()) absl::StrAppend(&ua, " (+contact: ", FLAGS_contact, ")");
  return ua;
}

int EveSsoRefreshMarginSeconds() { return FLAGS_eve_sso_refresh_margin_s; }

namespace {

absl::StatusOr<std::shared_ptr<const TokenEndpointClient>> Make(
    const std::string& id, const std::string& secret, const std::string& url, ClientAuth auth,
    const std::string& prefix) {
  if (id.empty() && secret.empty()) return std::shared_ptr<const TokenEndpointClient>();
  if (id.empty()) {
    return absl::InvalidArgumentError("--" + prefix + "_client_secret needs --" + prefix +
                                      "_client_id");
  }
  if (secret.empty()) {
    return absl::InvalidArgumentError("--" + prefix + "_client_id needs its secret: --" + prefix +
                                      "_client_secret_file (a mounted Secret)");
  }
  TokenEndpointConfig c;
  c.token_url = url;
  c.client_id = id;
  c.client_secret = secret;
  c.auth = auth;
  c.user_agent = CoordinatorUserAgent();
  auto client = TokenEndpointClient::Create(std::move(c));
  if (!client.ok()) {
    return absl::InvalidArgumentError("--" + prefix + "_token_url: " +
                                      std::string(client.status().message()));
  }
  return std::shared_ptr<const TokenEndpointClient>(std::move(*client));
}

}  // namespace

absl::StatusOr<OAuthClients> OAuthClientsFromFlags() {
  if (FLAGS_eve_sso_refresh_margin_s < 0) {
    return absl::InvalidArgumentError("--eve_sso_refresh_margin_s must not be negative");
  }
  OAuthClients out;
  // EVE SSO authenticates the client with HTTP Basic (esi-docs,
  // docs/services/sso, "Authorization Code"); GGG reads client_id and
  // client_secret from the form (developer/docs/authorization, "Client
  // Credentials Grant").
  auto eve = Make(FLAGS_eve_sso_client_id, FLAGS_eve_sso_client_secret, FLAGS_eve_sso_token_url,
                  ClientAuth::kBasic, "eve_sso");
  if (!eve.ok()) return eve.status();
  out.eve_sso = std::move(*eve);
  auto poe = Make(FLAGS_poe_client_id, FLAGS_poe_client_secret, FLAGS_poe_token_url,
                  ClientAuth::kFormBody, "poe");
  if (!poe.ok()) return poe.status();
  out.poe = std::move(*poe);
  return out;
}

}  // namespace sluice::oauth
