#include "sim/simulator.h"

#include <absl/strings/ascii.h>
#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>
#include <glog/logging.h>
#include <httplib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sim/esi_limits.h"
#include "sim/esi_meter.h"
#include "sim/esi_routes.h"
#include "sim/faults.h"
#include "sim/http_util.h"
#include "sim/oauth_server.h"
#include "sim/openapi.h"
#include "sim/poe_limits.h"
#include "sim/poe_routes.h"
#include "sim/stats.h"

namespace sluice::sim {
namespace {

constexpr char kErrorLimited[] =
    "This software has exceeded the error limit for ESI. If you are a user, please contact the "
    "maintainer of this software. If you are a developer/maintainer, please make a greater "
    "effort in the future to receive valid responses.";

void SetErrorLimitHeaders(httplib::Response& res, const ErrorLimiter::State& s) {
  res.set_header("X-ESI-Error-Limit-Remain", std::to_string(s.remain));
  res.set_header("X-ESI-Error-Limit-Reset", std::to_string(s.reset_seconds));
}

void SetGroupHeaders(httplib::Response& res, const GroupLimiter& group,
                     const GroupLimiter::Snapshot& s) {
  res.set_header("X-Ratelimit-Group", group.limit().name);
  res.set_header("X-Ratelimit-Limit", group.limit_header());
  res.set_header("X-Ratelimit-Remaining", std::to_string(s.remaining));
  res.set_header("X-Ratelimit-Used", std::to_string(s.used));
}

// If-None-Match may list several tags, weak ones, or "*".
bool MatchesETag(const std::string& if_none_match, const std::string& etag) {
  for (absl::string_view tag : absl::StrSplit(if_none_match, ',')) {
    tag = absl::StripAsciiWhitespace(tag);
    if (absl::StartsWith(tag, "W/")) tag.remove_prefix(2);
    if (tag == "*" || tag == etag) return true;
  }
  return false;
}

// esi-docs (docs/services/esi/best-practices.md): a User-Agent should say
// how to reach the developer; an e-mail address or a "contact" says so.
bool EsiUserAgentFollows(const std::string& ua) {
  return ua.find('@') != std::string::npos ||
         absl::StrContains(absl::AsciiStrToLower(ua), "contact");
}

// GGG (developer/docs, "User Agent"): "OAuth {clientId}/{version}
// (contact: {email})", optionally followed by more.
bool PoeUserAgentFollows(const std::string& ua) {
  if (!absl::StartsWith(ua, "OAuth ")) return false;
  const size_t space = ua.find(' ', 6);
  if (space == std::string::npos) return false;
  const std::string product = ua.substr(6, space - 6);
  const size_t slash = product.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == product.size()) return false;
  if (ua.compare(space, 11, " (contact: ") != 0) return false;
  const size_t close = ua.find(')', space + 11);
  return close != std::string::npos && close > space + 11;
}

// The token of "Authorization: Bearer <token>", or empty.
std::string BearerToken(const httplib::Request& req) {
  constexpr absl::string_view kBearer = "Bearer ";
  const std::string auth = req.get_header_value("Authorization");
  if (!absl::StartsWith(auth, kBearer)) return "";
  return auth.substr(kBearer.size());
}

void Reply400(httplib::Response& res, absl::string_view message) {
  res.status = 400;
  res.set_content(EsiError(message), kJsonType);
}

// Parses a /sim/* request body; answers 400 itself when it is not JSON.
std::optional<nlohmann::json> ParseBody(const httplib::Request& req, httplib::Response& res) {
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    Reply400(res, "request body is not valid JSON");
    return std::nullopt;
  }
  return body;
}

// The resource a request names, as ESI's cache keys it: the path without
// its version prefix, then the query (httplib keeps parameters sorted by
// name), so each page of a paged list is a resource of its own.
std::string CacheResource(const httplib::Request& req) {
  std::string out(EsiRoutes::StripVersion(req.path));
  char sep = '?';
  for (const auto& [name, value] : req.params) {
    out.push_back(sep);
    out.append(name).push_back('=');
    out.append(value);
    sep = '&';
  }
  return out;
}

}  // namespace

Simulator::Simulator(SimConfig config, const Clock* clock)
    : config_(std::move(config)),
      clock_(clock),
      faults_(std::make_unique<FaultInjector>(config_.faults, config_.universe.seed)),
      stats_(std::make_unique<StatsCollector>()),
      etiquette_(std::make_unique<CacheEtiquette>()) {}

Simulator::~Simulator() { Stop(); }

std::string Simulator::base_url() const { return absl::StrCat("http://127.0.0.1:", port_.load()); }

void Simulator::Build() {
  esi_ = std::make_unique<EsiRoutes>(universe_.get(), config_);
  esi_modules_ = MakeEsiModules(universe_.get(), config_, clock_);
  for (const auto& module : esi_modules_) esi_->AddModule(module.get());
  for (const EsiRouteInfo& r : esi_->Routes()) {
    if (!r.scope.empty()) route_scopes_[r.route] = r.scope;
  }
  oauth_ = std::make_unique<OAuthServer>(
      config_, clock_, config_.universe.seed,
      [this](const std::string& token, int64_t character, TimePoint expires) {
        for (const auto& module : esi_modules_) module->AcceptToken(token, character, expires);
      });
  poe_ = std::make_unique<PoeRoutes>(clock_);
  meter_ = std::make_unique<EsiMeter>(config_, clock_);
  // A policy without rules is unlimited and sends no rate-limit headers.
  if (!config_.poe_stash_rules.empty()) {
    policies_[kPoeStashPolicy] = std::make_unique<PoeLimiter>(
        kPoeStashPolicy, config_.poe_stash_rules, clock_, config_.metering);
  }
  if (!config_.poe_exchange_rules.empty()) {
    policies_[kPoeExchangePolicy] = std::make_unique<PoeLimiter>(
        kPoeExchangePolicy, config_.poe_exchange_rules, clock_, config_.metering);
  }
}

absl::StatusOr<int> Simulator::Start(int port) {
  if (server_ != nullptr) return absl::FailedPreconditionError("simulator already started");
  absl::Status valid = ValidateConfig(config_);
  if (!valid.ok()) return valid;
  if (port < 0 || port > 65535) return absl::InvalidArgumentError("port must be in [0, 65535]");

  auto started = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<Universe>> universe =
      Universe::Generate(config_.universe, clock_->Now());
  if (!universe.ok()) return universe.status();
  universe_ = std::move(*universe);
  LOG(INFO) << "universe generated in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - started)
                   .count()
            << " ms: " << universe_->Summary().dump();
  Build();

  server_ = std::make_unique<httplib::Server>();
  const int threads = config_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // Small JSON answers on keep-alive connections: without TCP_NODELAY, Nagle
  // and delayed ACKs add tens of milliseconds to every request.
  server_->set_tcp_nodelay(true);
  RegisterRoutes();

  int bound = port;
  if (port == 0) {
    bound = server_->bind_to_any_port(config_.bind_address);
  } else if (!server_->bind_to_port(config_.bind_address, port)) {
    bound = -1;
  }
  if (bound <= 0) {
    std::string err = std::strerror(errno);
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config_.bind_address, ":", port, ": ", err));
  }
  port_ = bound;
  server_thread_ = std::thread([this] {
    server_->listen_after_bind();
    listen_returned_ = true;
  });
  // httplib's stop() is a no-op until the accept loop runs; waiting here makes
  // an immediate Stop() safe.
  while (!server_->is_running() && !listen_returned_) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  LOG(INFO) << "upstream simulator listening on " << config_.bind_address << ":" << bound;
  return bound;
}

void Simulator::Stop() {
  if (server_ == nullptr || !server_thread_.joinable()) return;
  server_->stop();
  server_thread_.join();
  LOG(INFO) << "upstream simulator on port " << port_ << " stopped";
}

PoeLimiter* Simulator::FindPolicy(const std::string& policy) const {
  auto it = policies_.find(policy);
  return it == policies_.end() ? nullptr : it->second.get();
}

void Simulator::RegisterRoutes() {
  httplib::Server& s = *server_;
  s.Get("/sim/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  s.Get("/sim/stats", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(Stats().dump(2), kJsonType);
  });
  s.Get("/sim/buckets", [this](const httplib::Request& req, httplib::Response& res) {
    absl::StatusOr<nlohmann::json> buckets = meter_->BucketsJson(req.get_param_value("caller"));
    if (!buckets.ok()) return Reply400(res, buckets.status().message());
    res.set_content(buckets->dump(2), kJsonType);
  });
  // Generated once: routes and groups do not change while serving.
  const std::string openapi = EsiOpenApi(esi_->Routes(), config_.esi_groups).dump();
  s.Get("/meta/openapi.json", [openapi](const httplib::Request&, httplib::Response& res) {
    res.set_content(openapi, kJsonType);
  });
  s.Post("/sim/reset_stats", [this](const httplib::Request&, httplib::Response& res) {
    ResetStats();
    res.set_content("{}", kJsonType);
  });
  s.Post("/sim/reset_limits", [this](const httplib::Request&, httplib::Response& res) {
    ResetLimits();
    res.set_content("{}", kJsonType);
  });
  s.Get("/sim/universe", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(universe_->Summary().dump(2), kJsonType);
  });
  s.Get("/sim/faults", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(FaultsToJson(faults()).dump(), kJsonType);
  });
  s.Post("/sim/faults", [this](const httplib::Request& req, httplib::Response& res) {
    std::optional<nlohmann::json> body = ParseBody(req, res);
    if (!body) return;
    absl::StatusOr<FaultConfig> merged = MergeFaultsJson(*body, faults());
    if (!merged.ok()) return Reply400(res, merged.status().message());
    faults_->Set(*merged);
    LOG(INFO) << "faults now " << FaultsToJson(*merged).dump();
    res.set_content(FaultsToJson(*merged).dump(), kJsonType);
  });
  s.Post("/sim/mutate", [this](const httplib::Request& req, httplib::Response& res) {
    std::optional<nlohmann::json> body = ParseBody(req, res);
    if (!body) return;
    std::optional<EntityKind> kind;
    if (body->is_object() && body->contains("kind") && (*body)["kind"].is_string()) {
      kind = ParseEntityKind((*body)["kind"].get<std::string>());
    }
    std::optional<std::string> name;
    if (body->is_object() && body->contains("name")) {
      if (!(*body)["name"].is_string()) return Reply400(res, "name must be a string");
      name = (*body)["name"].get<std::string>();
    }
    if (!kind || !body->contains("id") || !(*body)["id"].is_number_integer()) {
      return Reply400(res,
                      "want {\"kind\": \"alliance\"|\"corporation\"|\"character\", \"id\": <int>"
                      "[, \"name\": <string>]}");
    }
    absl::Status s = Mutate(*kind, (*body)["id"].get<int64_t>(), std::move(name));
    if (absl::IsNotFound(s)) {
      res.status = 404;
      res.set_content(EsiError(s.message()), kJsonType);
      return;
    }
    res.set_content("{}", kJsonType);
  });
  for (const auto& module : esi_modules_) module->RegisterControl(s);
  oauth_->Register(s);
  s.Get(R"(/sim/.*)", [](const httplib::Request&, httplib::Response& res) {
    res.status = 404;
    res.set_content(EsiError("no such /sim route"), kJsonType);
  });
  s.Get(R"(.*)",
        [this](const httplib::Request& req, httplib::Response& res) { HandleUpstream(req, res); });
  // The upstreams we simulate are read-only.
  s.Post(R"(.*)", [](const httplib::Request&, httplib::Response& res) {
    res.status = 405;
    res.set_content(EsiError("Method not allowed"), kJsonType);
  });
}

void Simulator::HandleUpstream(const httplib::Request& req, httplib::Response& res) {
  res.set_header("Date", HttpDate(clock_->Now()));
  if (PoeRoutes::Owns(req.path)) {
    HandlePoe(req, res);
  } else {
    HandleEsi(req, res);
  }
  VLOG(1) << req.method << " " << req.path << " -> " << res.status;
}

std::string Simulator::EsiCallerOf(const httplib::Request& req) const {
  // esi-docs "Rate Limiting", "Bucket System": an authenticated call is billed
  // to <applicationID>:<characterID> of its token, anything else to the
  // source IP (an unknown or expired token authenticates nobody). One
  // simplification: ESI bills a token sent to a public route to
  // <sourceIP>:<applicationID>; the simulator bills it to the character.
  const std::string token = BearerToken(req);
  if (!token.empty()) {
    if (token == config_.auth_token) {
      return EsiMeter::CharacterCaller(config_.auth_token_character_id);
    }
    for (const auto& module : esi_modules_) {
      if (std::optional<int64_t> character = module->CharacterForToken(token)) {
        return EsiMeter::CharacterCaller(*character);
      }
    }
  }
  return EsiMeter::AddressCaller(req.remote_addr);
}

void Simulator::HandleEsi(const httplib::Request& req, httplib::Response& res) {
  EsiMatch match = esi_->Match(EsiRoutes::StripVersion(req.path));
  const std::string user_agent = req.get_header_value("User-Agent");
  stats_->RecordUserAgentFormat("esi", EsiUserAgentFollows(user_agent));
  const std::string caller = EsiCallerOf(req);
  const std::string address = EsiMeter::AddressCaller(req.remote_addr);
  // ESI's cache etiquette (CacheEtiquette): every request, whatever it is
  // answered, is checked against the Expires this client was last given for
  // this very resource (each page its own).
  const std::string resource = CacheResource(req);
  etiquette_->RecordRequest(caller, resource, match.route, clock_->Now());

  // Errors count against the address on every route, and a spent error limit
  // answers 420 on every route (the strict reading of esi-docs' warning that
  // the error limit "will return 420s on all ESI routes").
  std::shared_ptr<ErrorLimiter> errors = meter_->Errors(address);
  ErrorLimiter::State err = errors->Check();
  if (err.limited) {
    stats_->RecordViolation(kViolationEsiErrorLimit, address);
    SetErrorLimitHeaders(res, err);  // the 420's own reason, on any route
    res.status = 420;
    res.set_content(EsiError(kErrorLimited), kJsonType);
    stats_->RecordRequest(match.route, res.status, user_agent, caller);
    return;
  }

  // An EVE SSO access token is checked as ESI checks it: an expired or
  // unknown one is refused 403 with ESI's error body, as is one without the
  // scope the route needs (esi-docs, docs/services/sso: "The token is only
  // valid for the character and scopes that the user has consented to, and
  // until it expires"). Tokens of /sim/tokens are the killmail module's own.
  if (const std::string token = BearerToken(req); !token.empty()) {
    const OAuthServer::EsiToken t = oauth_->CheckEsi(token);
    std::string refused;
    if (t.state == OAuthServer::EsiToken::State::kExpired) {
      oauth_->CountRejected("esi", "expired");
      refused = "token is expired";
    } else if (t.state == OAuthServer::EsiToken::State::kInvalid) {
      oauth_->CountRejected("esi", "invalid");
      refused = "invalid token";
    } else if (t.state == OAuthServer::EsiToken::State::kValid) {
      auto scope = route_scopes_.find(match.route);
      if (scope != route_scopes_.end() &&
          std::find(t.scopes.begin(), t.scopes.end(), scope->second) == t.scopes.end()) {
        oauth_->CountRejected("esi", "scope");
        refused = "token not valid for scope";
      }
    }
    if (!refused.empty()) {
      ErrorLimiter::State after = errors->Record(403);
      SetErrorLimitHeaders(res, after);
      res.status = 403;
      res.set_content(EsiError(refused), kJsonType);
      stats_->RecordRequest(match.route, res.status, user_agent, caller);
      return;
    }
  }

  std::shared_ptr<GroupLimiter> group = meter_->Group(match.group, caller);
  // esi-docs: the rate-limit headers "are mutually exclusive" to the error
  // limit headers, so a route in a group sends only its group's headers.
  const bool error_headers = group == nullptr || meter_->metering() == Metering::kGlobal;
  GroupLimiter::Admission admission;
  if (group != nullptr) {
    admission = group->Admit();
    if (!admission.admitted) {
      stats_->RecordViolation(kViolationEsiGroup, caller);
      ErrorLimiter::State after = errors->Record(429);
      if (error_headers) SetErrorLimitHeaders(res, after);
      if (faults_->DropRateLimitHeaders()) {
        stats_->RecordFault("429_no_headers");
      } else {
        res.set_header("Retry-After", std::to_string(admission.retry_after_seconds));
        SetGroupHeaders(res, *group, admission.snapshot);
      }
      res.status = 429;
      res.set_content(
          EsiError(absl::StrCat("Rate limit exceeded for group ", group->limit().name,
                                ", retry in ", admission.retry_after_seconds, " seconds")),
          kJsonType);
      stats_->RecordRequest(match.route, res.status, user_agent, caller);
      return;
    }
  }

  FaultInjector::Plan plan = faults_->Draw();
  if (plan.delay_ms > 0) {
    stats_->RecordFault("slow");
    std::this_thread::sleep_for(std::chrono::milliseconds(plan.delay_ms));
  }
  Reply reply;
  if (plan.fail_status != 0) {
    stats_->RecordFault("5xx");
    reply.status = plan.fail_status;
    reply.body = EsiError(absl::StrCat("Simulated upstream failure (", plan.fail_status, ")"));
  } else {
    reply = esi_->Serve(match, req);
  }

  int status = reply.status;
  if (status == 200 && reply.cacheable) {
    TimePoint now = clock_->Now();
    std::string etag = ETagOf(reply.body);
    if (MatchesETag(req.get_header_value("If-None-Match"), etag)) {
      status = 304;
      reply.body.clear();
    } else if (plan.malformed) {
      stats_->RecordFault("malformed");
      reply.body = faults_->Corrupt(reply.body);
      etag = ETagOf(reply.body);
    }
    res.set_header("ETag", etag);
    // Announced to the second, as the header says.
    const TimePoint expires = std::chrono::time_point_cast<std::chrono::seconds>(
        reply.expires.value_or(now + std::chrono::seconds(reply.cache_seconds)));
    res.set_header("Expires", HttpDate(expires));
    etiquette_->Announce(caller, resource, expires, now);
    res.set_header("Last-Modified", HttpDate(reply.last_modified));
  } else if (status == 200 && plan.malformed) {
    stats_->RecordFault("malformed");
    reply.body = faults_->Corrupt(reply.body);
  }

  for (const auto& [name, value] : reply.headers) res.set_header(name, value);
  ErrorLimiter::State after = errors->Record(status);
  if (error_headers) SetErrorLimitHeaders(res, after);
  if (group != nullptr) SetGroupHeaders(res, *group, group->Settle(admission.ticket, status));
  res.status = status;
  if (status != 304) res.set_content(reply.body, kJsonType);
  stats_->RecordRequest(match.route, status, user_agent, caller);
}

void Simulator::HandlePoe(const httplib::Request& req, httplib::Response& res) {
  PoeMatch match = poe_->Match(req.path);
  const std::string user_agent = req.get_header_value("User-Agent");
  stats_->RecordUserAgentFormat("poe", PoeUserAgentFollows(user_agent));
  // PoE requests are counted per source address; a refused one is charged to
  // the key of the rule that refused it (an address, an account, ...).
  const std::string caller = EsiMeter::AddressCaller(req.remote_addr);

  // GGG's APIs need an OAuth token (developer/docs/authorization): the
  // public stash stream service:psapi, the currency exchange service:cxapi.
  // No, an unknown or an expired token: 401; a token without the scope: 403.
  if (config_.poe_require_token && !match.policy.empty()) {
    const OAuthServer::PoeToken t = oauth_->CheckPoe(BearerToken(req));
    const std::string needed =
        match.policy == kPoeStashPolicy ? "service:psapi" : "service:cxapi";
    int status = 0;
    std::string why;
    if (t.state == OAuthServer::PoeToken::State::kMissing) {
      status = 401, why = "missing";
    } else if (t.state == OAuthServer::PoeToken::State::kUnknown) {
      status = 401, why = "invalid";
    } else if (t.state == OAuthServer::PoeToken::State::kExpired) {
      status = 401, why = "expired";
    } else if (std::find(t.scopes.begin(), t.scopes.end(), needed) == t.scopes.end()) {
      status = 403, why = "scope";
    }
    if (status != 0) {
      oauth_->CountRejected("poe", why);
      res.status = status;
      // GGG's error codes: 8 Unauthorized, 6 Forbidden (developer/docs, "Errors").
      res.set_content(status == 401 ? PoeError(8, "Unauthorized") : PoeError(6, "Forbidden"),
                      kJsonType);
      stats_->RecordRequest(match.route, res.status, user_agent, caller);
      return;
    }
  }

  if (PoeLimiter* limiter = FindPolicy(match.policy)) {
    std::string account = BearerToken(req);
    if (account.empty()) account = kPoeAnonymous;
    PoeLimiter::Decision d = limiter->Decide(PoeCaller{req.remote_addr, account});
    for (const auto& [name, value] : d.headers) res.set_header(name, value);
    if (d.outcome != PoeLimiter::Outcome::kAllowed) {
      stats_->RecordViolation(d.outcome == PoeLimiter::Outcome::kRestricted
                                  ? kViolationPoeRestriction
                                  : kViolationPoeRule,
                              d.refused_key);
      res.status = 429;
      res.set_header("Retry-After", std::to_string(d.retry_after_seconds));
      res.set_content(PoeError(3, absl::StrCat("Rate limit exceeded; you are restricted for ",
                                               d.retry_after_seconds, " seconds")),
                      kJsonType);
      stats_->RecordRequest(match.route, res.status, user_agent, caller);
      return;
    }
  }

  FaultInjector::Plan plan = faults_->Draw();
  if (plan.delay_ms > 0) {
    stats_->RecordFault("slow");
    std::this_thread::sleep_for(std::chrono::milliseconds(plan.delay_ms));
  }
  Reply reply;
  if (plan.fail_status != 0) {
    stats_->RecordFault("5xx");
    reply.status = plan.fail_status;
    reply.body = PoeError(500, "Simulated upstream failure");
  } else {
    reply = poe_->Serve(match, req);
    if (reply.status == 200 && plan.malformed) {
      stats_->RecordFault("malformed");
      reply.body = faults_->Corrupt(reply.body);
    }
  }
  res.status = reply.status;
  res.set_content(reply.body, kJsonType);
  stats_->RecordRequest(match.route, reply.status, user_agent, caller);
}

nlohmann::json Simulator::Stats() const {
  nlohmann::json out = stats_->ToJson();
  out["etiquette"] = etiquette_->ToJson();
  out["fault_config"] = FaultsToJson(faults());
  out["metering"] = MeteringName(config_.metering);
  nlohmann::json esi = nlohmann::json::object();
  if (meter_ != nullptr) {
    esi["error_limit"] = meter_->ErrorLimitJson();
    esi["groups"] = meter_->GroupsJson();
  } else {
    esi["groups"] = nlohmann::json::object();
  }
  out["esi"] = esi;
  nlohmann::json poe = nlohmann::json::object();
  for (const auto& [policy, limiter] : policies_) poe[policy] = limiter->ToJson();
  out["poe"] = poe;
  if (universe_ != nullptr) out["universe"] = universe_->Summary();
  if (oauth_ != nullptr) {
    const nlohmann::json summary = oauth_->Summary();
    for (const auto& [key, value] : summary.items()) out[key] = value;
  }
  for (const auto& module : esi_modules_) {
    const nlohmann::json summary = module->Summary();  // items() must not outlive it
    for (const auto& [key, value] : summary.items()) out[key] = value;
  }
  return out;
}

void Simulator::ResetStats() {
  stats_->Reset();
  etiquette_->ResetCounters();
  if (oauth_ != nullptr) oauth_->ResetCounters();
}

void Simulator::ResetLimits() {
  if (meter_ != nullptr) meter_->Reset();
  for (auto& [policy, limiter] : policies_) limiter->Reset();
}

absl::Status Simulator::SetFaults(const FaultConfig& faults) {
  absl::Status s = ValidateFaults(faults);
  if (!s.ok()) return s;
  faults_->Set(faults);
  return absl::OkStatus();
}

FaultConfig Simulator::faults() const { return faults_->Get(); }

absl::Status Simulator::Mutate(EntityKind kind, int64_t id, std::optional<std::string> name) {
  if (universe_ == nullptr) return absl::FailedPreconditionError("simulator not started");
  return universe_->Mutate(kind, id, clock_->Now(), std::move(name));
}

}  // namespace sluice::sim
