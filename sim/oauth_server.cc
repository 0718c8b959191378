#include "sim/oauth_server.h"

#include <httplib.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "sim/http_util.h"

namespace sluice::sim {
namespace {

constexpr char kJson[] = "application/json";
// GGG's service scopes (developer/docs/authorization, "Available Scopes").
const char* const kPoeServiceScopes[] = {"service:leagues", "service:leagues:ladder",
                                         "service:pvp_matches", "service:pvp_matches:ladder",
                                         "service:psapi", "service:cxapi"};

// RFC 6749 section 5.2.
void OAuthError(httplib::Response& res, int status, const std::string& error,
                const std::string& description) {
  res.status = status;
  res.set_content(nlohmann::json{{"error", error}, {"error_description", description}}.dump(),
                  kJson);
}

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), kJson);
}

std::optional<int64_t> PositiveParam(const httplib::Request& req, const char* name) {
  int64_t v = 0;
  if (!req.has_param(name) || !absl::SimpleAtoi(req.get_param_value(name), &v) || v <= 0) {
    return std::nullopt;
  }
  return v;
}

std::string Base64Url(absl::string_view s) { return absl::WebSafeBase64Escape(s); }

}  // namespace

OAuthServer::OAuthServer(const SimConfig& config, const Clock* clock, uint64_t seed,
                         std::function<void(const std::string&, int64_t, TimePoint)> on_esi_token)
    : config_(config), clock_(clock), on_esi_token_(std::move(on_esi_token)), rng_(seed ^ 0x55aa) {}

std::string OAuthServer::RandomHex(int bytes) {
  std::string raw;
  for (int i = 0; i < bytes; i += 8) {
    const uint64_t v = rng_();
    raw.append(reinterpret_cast<const char*>(&v), std::min(8, bytes - i));
  }
  return absl::BytesToHexString(raw);
}

bool OAuthServer::InOutage(TimePoint now) const { return now < outage_until_; }

void OAuthServer::Prune(TimePoint now) {
  // Access tokens an hour past their expiry are forgotten (then unknown:
  // still refused, as invalid rather than expired).
  if (now - last_prune_ < std::chrono::minutes(1)) return;
  last_prune_ = now;
  for (auto it = access_.begin(); it != access_.end();) {
    it = it->second.expires + std::chrono::hours(1) < now ? access_.erase(it) : std::next(it);
  }
}

nlohmann::json OAuthServer::IssueEsi(int64_t character_id, const std::vector<std::string>& scopes,
                                     std::string* token_out, TimePoint* expires_out) {
  const TimePoint now = clock_->Now();
  const int64_t iat = static_cast<int64_t>(ToUnixSeconds(now));
  const int64_t exp = iat + config_.sso_token_lifetime_s;
  // EVE's JWT header and claims (esi-docs, docs/services/sso/index.md,
  // "Validating JWT Tokens"): one scope is a string, more an array.
  nlohmann::json header = {{"alg", "RS256"}, {"kid", "JWT-Signature-Key"}, {"typ", "JWT"}};
  nlohmann::json claims = {{"scp", scopes.size() == 1 ? nlohmann::json(scopes[0])
                                                       : nlohmann::json(scopes)},
                           {"jti", RandomHex(16)},
                           {"kid", "JWT-Signature-Key"},
                           {"sub", absl::StrCat("CHARACTER:EVE:", character_id)},
                           {"azp", config_.sso_client_id},
                           {"tenant", "tranquility"},
                           {"tier", "live"},
                           {"region", "world"},
                           {"aud", nlohmann::json::array({config_.sso_client_id, "EVE Online"})},
                           {"name", absl::StrCat("Sim Character ", character_id)},
                           {"owner", RandomHex(12)},
                           {"exp", exp},
                           {"iat", iat},
                           {"iss", "https://login.eveonline.com"}};
  std::string token = absl::StrCat(Base64Url(header.dump()), ".", Base64Url(claims.dump()), ".",
                                   Base64Url(RandomHex(32)));
  const TimePoint expires = FromUnixSeconds(static_cast<double>(exp));
  access_[token] = AccessToken{character_id, scopes, expires};
  ++counters_["access_tokens_issued"];
  *token_out = token;
  *expires_out = expires;
  return {{"access_token", token},
          {"expires_in", config_.sso_token_lifetime_s},
          {"token_type", "Bearer"}};
}

OAuthServer::Grant OAuthServer::MintGrant(int64_t character_id,
                                          const std::vector<std::string>& scopes) {
  std::lock_guard<std::mutex> lock(mu_);
  Grant g;
  g.refresh_token = RandomHex(24);
  g.code = RandomHex(16);
  refresh_[g.refresh_token] = RefreshToken{character_id, scopes};
  codes_[g.code] = RefreshToken{character_id, scopes};
  ++counters_["grants_minted"];
  return g;
}

int OAuthServer::Revoke(int64_t character_id) {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (auto it = refresh_.begin(); it != refresh_.end();) {
    if (it->second.character_id == character_id) {
      it = refresh_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  counters_["revoked"] += n;
  return n;
}

void OAuthServer::Register(httplib::Server& server) {
  server.Post("/v2/oauth/token", [this](const httplib::Request& req, httplib::Response& res) {
    std::string esi_token;
    TimePoint esi_expires;
    int64_t esi_character = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const TimePoint now = clock_->Now();
      Prune(now);
      if (InOutage(now)) {
        ++counters_["outage_refusals"];
        return OAuthError(res, 503, "temporarily_unavailable", "The SSO is unavailable");
      }
      // Basic client authentication (esi-docs, web based flow).
      const std::string auth = req.get_header_value("Authorization");
      std::string decoded;
      if (!absl::StartsWith(auth, "Basic ") ||
          !absl::Base64Unescape(absl::string_view(auth).substr(6), &decoded) ||
          decoded != config_.sso_client_id + ":" + config_.sso_client_secret) {
        ++counters_["invalid_client"];
        return OAuthError(res, 401, "invalid_client", "Client authentication failed");
      }
      const std::string grant = req.get_param_value("grant_type");
      RefreshToken who;
      if (grant == "refresh_token") {
        auto it = refresh_.find(req.get_param_value("refresh_token"));
        if (it == refresh_.end()) {
          ++counters_["invalid_grant"];
          return OAuthError(res, 400, "invalid_grant",
                            "Invalid refresh token. Character grant missing/expired.");
        }
        who = it->second;
        refresh_.erase(it);  // rotation: the token used is spent
        ++counters_["grants.refresh_token"];
      } else if (grant == "authorization_code") {
        auto it = codes_.find(req.get_param_value("code"));
        if (it == codes_.end()) {
          ++counters_["invalid_grant"];
          return OAuthError(res, 400, "invalid_grant", "Authorization code not found");
        }
        who = it->second;
        codes_.erase(it);  // a code is good once
        ++counters_["grants.authorization_code"];
      } else {
        return OAuthError(res, 400, "unsupported_grant_type",
                          "grant_type must be authorization_code or refresh_token");
      }
      nlohmann::json body = IssueEsi(who.character_id, who.scopes, &esi_token, &esi_expires);
      const std::string rotated = RandomHex(24);
      refresh_[rotated] = who;
      body["refresh_token"] = rotated;
      esi_character = who.character_id;
      SendJson(res, 200, body);
    }
    if (on_esi_token_) on_esi_token_(esi_token, esi_character, esi_expires);
  });

  server.Post("/oauth/token", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu_);
    const TimePoint now = clock_->Now();
    Prune(now);
    if (InOutage(now)) {
      ++counters_["outage_refusals"];
      return OAuthError(res, 503, "temporarily_unavailable", "Service unavailable");
    }
    if (req.get_param_value("client_id") != config_.poe_client_id ||
        req.get_param_value("client_secret") != config_.poe_client_secret) {
      ++counters_["invalid_client"];
      return OAuthError(res, 401, "invalid_client", "Client authentication failed");
    }
    if (req.get_param_value("grant_type") != "client_credentials") {
      return OAuthError(res, 400, "unsupported_grant_type",
                        "this client may use the client_credentials grant");
    }
    std::vector<std::string> scopes =
        absl::StrSplit(req.get_param_value("scope"), ' ', absl::SkipEmpty());
    if (scopes.empty()) return OAuthError(res, 400, "invalid_scope", "scope is required");
    for (const std::string& s : scopes) {
      if (std::find(std::begin(kPoeServiceScopes), std::end(kPoeServiceScopes), s) ==
          std::end(kPoeServiceScopes)) {
        return OAuthError(res, 400, "invalid_scope", "unknown or non-service scope " + s);
      }
    }
    const std::string token = RandomHex(20);
    access_[token] = AccessToken{0, scopes, now + std::chrono::seconds(config_.poe_token_lifetime_s)};
    ++counters_["grants.client_credentials"];
    SendJson(res, 200,
             {{"access_token", token},
              {"expires_in", config_.poe_token_lifetime_s},
              {"token_type", "bearer"},
              {"scope", absl::StrJoin(scopes, " ")},
              {"username", config_.poe_client_id},
              {"sub", RandomHex(16)}});
  });

  server.Post("/sim/sso/grant", [this](const httplib::Request& req, httplib::Response& res) {
    std::optional<int64_t> id = PositiveParam(req, "character_id");
    if (!id) return SendJson(res, 400, {{"error", "want ?character_id=ID[&scopes=a,b]"}});
    std::vector<std::string> scopes = {kKillmailsScope};
    if (req.has_param("scopes")) {
      scopes = absl::StrSplit(req.get_param_value("scopes"), ',', absl::SkipEmpty());
    }
    Grant g = MintGrant(*id, scopes);
    SendJson(res, 200,
             {{"character_id", *id}, {"refresh_token", g.refresh_token}, {"code", g.code}});
  });
  server.Post("/sim/sso/revoke", [this](const httplib::Request& req, httplib::Response& res) {
    std::optional<int64_t> id = PositiveParam(req, "character_id");
    if (!id) return SendJson(res, 400, {{"error", "want ?character_id=ID"}});
    SendJson(res, 200, {{"character_id", *id}, {"revoked", Revoke(*id)}});
  });
  server.Post("/sim/sso/outage", [this](const httplib::Request& req, httplib::Response& res) {
    int64_t seconds = -1;
    if (!absl::SimpleAtoi(req.get_param_value("seconds"), &seconds) || seconds < 0) {
      return SendJson(res, 400, {{"error", "want ?seconds=N (0 ends an outage)"}});
    }
    std::lock_guard<std::mutex> lock(mu_);
    outage_until_ = clock_->Now() + std::chrono::seconds(seconds);
    SendJson(res, 200, {{"outage_seconds", seconds}});
  });
}

OAuthServer::EsiToken OAuthServer::CheckEsi(absl::string_view token) const {
  EsiToken out;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = access_.find(token);
  if (it == access_.end() || it->second.character_id == 0) {
    // A JWT-shaped token the SSO never issued (or forgot) is still an SSO
    // token to ESI: invalid, not "someone else's".
    if (std::count(token.begin(), token.end(), '.') == 2) out.state = EsiToken::State::kInvalid;
    return out;
  }
  out.character_id = it->second.character_id;
  out.scopes = it->second.scopes;
  out.state = it->second.expires <= clock_->Now() ? EsiToken::State::kExpired
                                                  : EsiToken::State::kValid;
  return out;
}

OAuthServer::PoeToken OAuthServer::CheckPoe(absl::string_view token) const {
  PoeToken out;
  if (token.empty()) return out;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = access_.find(token);
  if (it == access_.end() || it->second.character_id != 0) {
    out.state = PoeToken::State::kUnknown;
    return out;
  }
  out.scopes = it->second.scopes;
  out.state = it->second.expires <= clock_->Now() ? PoeToken::State::kExpired
                                                  : PoeToken::State::kValid;
  return out;
}

void OAuthServer::CountRejected(const std::string& upstream, const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counters_[absl::StrCat("rejected.", upstream, ".", why)];
}

nlohmann::json OAuthServer::Summary() const {
  std::lock_guard<std::mutex> lock(mu_);
  auto count = [&](const std::string& key) -> int64_t {
    auto it = counters_.find(key);
    return it == counters_.end() ? 0 : it->second;
  };
  nlohmann::json rejected = nlohmann::json::object();
  for (const char* upstream : {"esi", "poe"}) {
    for (const char* why : {"expired", "invalid", "missing", "scope"}) {
      rejected[upstream][why] = count(absl::StrCat("rejected.", upstream, ".", why));
    }
  }
  return {{"oauth",
           {{"grants",
             {{"authorization_code", count("grants.authorization_code")},
              {"refresh_token", count("grants.refresh_token")},
              {"client_credentials", count("grants.client_credentials")}}},
            {"access_tokens_issued", count("access_tokens_issued")},
            {"grants_minted", count("grants_minted")},
            {"invalid_grant", count("invalid_grant")},
            {"invalid_client", count("invalid_client")},
            {"outage_refusals", count("outage_refusals")},
            {"revoked", count("revoked")},
            {"refresh_tokens_live", static_cast<int64_t>(refresh_.size())},
            {"rejected", rejected}}}};
}

void OAuthServer::ResetCounters() {
  std::lock_guard<std::mutex> lock(mu_);
  counters_.clear();
}

}  // namespace sluice::sim
