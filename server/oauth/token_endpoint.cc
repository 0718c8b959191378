#include "server/oauth/token_endpoint.h"

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace sluice::oauth {
namespace {

constexpr size_t kMaxTokenLength = 8192;

bool HeaderSafe(const std::string& s) {
  for (char ch : s) {
    if (ch <= 0x20 || ch >= 0x7f) return false;
  }
  return true;
}

// The error of an error body (RFC 6749 section 5.2), or "" if the body is not one.
std::string OAuthError(const nlohmann::json& body) {
  if (!body.is_object() || !body.contains("error") || !body["error"].is_string()) return "";
  std::string out = body["error"].get<std::string>();
  if (body.contains("error_description") && body["error_description"].is_string()) {
    absl::StrAppend(&out, ": ", body["error_description"].get<std::string>());
  }
  return out.substr(0, 300);
}

}  // namespace

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  auto encode = [](const std::string& s) {
    std::string out;
    for (unsigned char ch : s) {
      if (absl::ascii_isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
        out.push_back(static_cast<char>(ch));
      } else if (ch == ' ') {
        out.push_back('+');
      } else {
        absl::StrAppend(&out, "%", absl::AsciiStrToUpper(absl::BytesToHexString(
                                       absl::string_view(reinterpret_cast<char*>(&ch), 1))));
      }
    }
    return out;
  };
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out.push_back('&');
    absl::StrAppend(&out, encode(k), "=", encode(v));
  }
  return out;
}

bool IsTransientTokenError(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsDataLoss(s) ||
         absl::IsResourceExhausted(s);
}

absl::StatusOr<TokenGrant> ParseTokenResponse(int status, const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (status >= 500 || status == 429 || status == 408) {
    std::string detail = j.is_discarded() ? "" : OAuthError(j);
    return absl::UnavailableError(absl::StrCat("token endpoint answered ", status,
                                               detail.empty() ? "" : ": ", detail));
  }
  if (status < 200 || status >= 300) {
    const std::string error = j.is_discarded() ? "" : OAuthError(j);
    if (absl::StartsWith(error, "invalid_grant")) return absl::FailedPreconditionError(error);
    if (!error.empty()) {
      return absl::PermissionDeniedError(absl::StrCat("token endpoint answered ", status, ": ",
                                                      error));
    }
    return absl::PermissionDeniedError(
        absl::StrCat("token endpoint answered ", status, " without an OAuth error body"));
  }
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat("token endpoint answered ", status,
                                            " with a body that is not a JSON object"));
  }
  TokenGrant g;
  if (!j.contains("access_token") || !j["access_token"].is_string() ||
      j["access_token"].get<std::string>().empty()) {
    return absl::DataLossError("token response: access_token missing or not a string");
  }
  g.access_token = j["access_token"].get<std::string>();
  if (g.access_token.size() > kMaxTokenLength || !HeaderSafe(g.access_token)) {
    return absl::DataLossError(
        "token response: access_token is too long or not printable ASCII without spaces");
  }
  if (j.contains("token_type")) {
    if (!j["token_type"].is_string()) {
      return absl::DataLossError("token response: token_type is not a string");
    }
    g.token_type = j["token_type"].get<std::string>();
    if (!absl::EqualsIgnoreCase(g.token_type, "bearer")) {
      return absl::DataLossError("token response: token_type '" + g.token_type.substr(0, 40) +
                                 "' is not Bearer");
    }
  }
  if (j.contains("expires_in") && !j["expires_in"].is_null()) {
    const auto& e = j["expires_in"];
    if (!e.is_number() || e.get<double>() <= 0 || e.get<double>() > 10 * 365 * 86400.0) {
      return absl::DataLossError("token response: expires_in is not a positive number of seconds");
    }
    g.expires_in = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(e.get<double>()));
  }
  if (j.contains("refresh_token") && !j["refresh_token"].is_null()) {
    if (!j["refresh_token"].is_string()) {
      return absl::DataLossError("token response: refresh_token is not a string");
    }
    g.refresh_token = j["refresh_token"].get<std::string>();
    if (g.refresh_token.size() > kMaxTokenLength || !HeaderSafe(g.refresh_token)) {
      return absl::DataLossError(
          "token response: refresh_token is too long or not printable ASCII without spaces");
    }
  }
  if (j.contains("scope") && j["scope"].is_string()) {
    for (absl::string_view s :
         absl::StrSplit(j["scope"].get<std::string>(), ' ', absl::SkipEmpty())) {
      g.scopes.emplace_back(s);
    }
  }
  return g;
}

absl::StatusOr<std::unique_ptr<TokenEndpointClient>> TokenEndpointClient::Create(
    TokenEndpointConfig config) {
  if (!absl::StartsWith(config.token_url, "https://") &&
      !absl::StartsWith(config.token_url, "http://")) {
    return absl::InvalidArgumentError("token URL must be http(s)://..., got '" +
                                      config.token_url + "'");
  }
  if (config.client_id.empty()) return absl::InvalidArgumentError("client id is empty");
  if (config.client_secret.empty()) return absl::InvalidArgumentError("client secret is empty");
  return std::unique_ptr<TokenEndpointClient>(new TokenEndpointClient(std::move(config)));
}

TokenEndpointClient::TokenEndpointClient(TokenEndpointConfig config) : config_(std::move(config)) {
  agent::CurlClientOptions o;
  o.user_agent = config_.user_agent;
  o.total_timeout = config_.timeout;
  o.max_body_bytes = 1 << 20;
  http_ = std::make_unique<agent::CurlClient>(o);
}

absl::StatusOr<TokenGrant> TokenEndpointClient::Refresh(const std::string& refresh_token) const {
  return Exchange({{"grant_type", "refresh_token"}, {"refresh_token", refresh_token}},
                  "refresh");
}

absl::StatusOr<TokenGrant> TokenEndpointClient::ExchangeCode(const std::string& code) const {
  return Exchange({{"grant_type", "authorization_code"}, {"code", code}}, "code exchange");
}

absl::StatusOr<TokenGrant> TokenEndpointClient::ClientCredentials(
    const std::vector<std::string>& scopes) const {
  return Exchange({{"grant_type", "client_credentials"}, {"scope", absl::StrJoin(scopes, " ")}},
                  "client credentials");
}

absl::StatusOr<TokenGrant> TokenEndpointClient::Exchange(
    std::vector<std::pair<std::string, std::string>> fields, const char* what) const {
  agent::RequestHeaders headers = {{"Accept", "application/json"}};
  if (config_.auth == ClientAuth::kBasic) {
    headers.emplace_back(
        "Authorization",
        "Basic " + absl::Base64Escape(config_.client_id + ":" + config_.client_secret));
  } else {
    fields.emplace_back("client_id", config_.client_id);
    fields.emplace_back("client_secret", config_.client_secret);
  }
  absl::StatusOr<agent::HttpResponse> r = http_->PostForm(config_.token_url, headers,
                                                          FormEncode(fields));
  if (!r.ok()) {
    // The transport's message names the URL, never the form.
    return absl::Status(r.status().code(),
                        absl::StrCat(what, " at ", config_.token_url, ": ", r.status().message()));
  }
  absl::StatusOr<TokenGrant> g = ParseTokenResponse(r->status, r->body);
  if (!g.ok()) {
    return absl::Status(g.status().code(),
                        absl::StrCat(what, " at ", config_.token_url, ": ", g.status().message()));
  }
  return g;
}

}  // namespace sluice::oauth
