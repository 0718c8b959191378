#include "sim/killmail_routes.h"

#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_split.h>
#include <httplib.h>

#include <algorithm>
#include <cstdlib>
#include <set>

namespace sluice::sim {
namespace {

enum Tag { kRecent = 1, kBody = 2 };

// ESI's group for the recent list: the OpenAPI document's x-rate-limit names
// "char-killmail" (30 tokens / 15m), as mirrored from
// https://esi.evetech.net/meta/openapi.json in e.g. neucore's
// backend/config/esi-rate-limits.php. That mirror (snapshots from November
// 2025 on) also lists the body route in a group "killmail" (3600 / 15m); the
// simulator serves bodies ungrouped by default (error limit only), as ESI long
// did, and models that group when configured (SimConfig::esi_killmail_body_group).
constexpr char kRecentGroup[] = "char-killmail";
constexpr char kRecentScope[] = "esi-killmails.read_killmails.v1";

// 2026-01-01T00:00:00Z; killmail times are derived from the sequence so a
// body never changes between requests.
constexpr int64_t kTimeBase = 1767225600;
constexpr int kMaxInitial = 120;
constexpr int64_t kMaxAdd = 100000;

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Reply Error(int status, const std::string& message) {
  Reply r;
  r.status = status;
  r.body = EsiError(message);
  return r;
}

void SendJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), kJsonType);
}

std::optional<int64_t> IntParam(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  return ParseId(req.get_param_value(name));
}

}  // namespace

KillmailRoutes::KillmailRoutes(const Universe* universe, const SimConfig& config,
                               const Clock* clock, Duration growth_period)
    : universe_(universe),
      seed_(config.universe.seed),
      clock_(clock),
      growth_period_(growth_period),
      list_cache_(std::chrono::seconds(config.cache_killmail_recent_seconds)),
      start_(universe->generated_at()),
      body_group_(config.esi_killmail_body_group) {
  for (int64_t alliance : universe_->AllianceIds()) {
    for (int64_t corp :
         universe_->AllianceCorporations(alliance).value_or(std::vector<int64_t>{})) {
      for (int64_t ch : universe_->CorporationMembers(corp).value_or(std::vector<int64_t>{})) {
        characters_.push_back(ch);
      }
    }
  }
  std::sort(characters_.begin(), characters_.end());
  characters_.erase(std::unique(characters_.begin(), characters_.end()), characters_.end());
  if (characters_.size() > static_cast<size_t>(kIdStride)) characters_.resize(kIdStride);
}

uint64_t KillmailRoutes::H(uint64_t a, uint64_t b) const {
  return Mix(Mix(seed_ ^ 0x6b696c6c6d61696cULL) ^ Mix(a) ^ (b * 0x9e3779b97f4a7c15ULL));
}

std::string KillmailRoutes::HashOf(int64_t killmail_id, uint64_t seed) {
  // 40 hex digits, like ESI's SHA-1 killmail hashes.
  std::string out;
  uint64_t x = Mix(seed ^ static_cast<uint64_t>(killmail_id));
  for (int i = 0; i < 3; ++i) {
    x = Mix(x + i);
    absl::StrAppend(&out, absl::Hex(x, absl::kZeroPad16));
  }
  return out.substr(0, 40);
}

std::optional<uint32_t> KillmailRoutes::IndexOf(int64_t character_id) const {
  auto it = std::lower_bound(characters_.begin(), characters_.end(), character_id);
  if (it == characters_.end() || *it != character_id) return std::nullopt;
  return static_cast<uint32_t>(it - characters_.begin());
}

int64_t KillmailRoutes::CountOf(uint32_t index, TimePoint now) const {
  int64_t count = static_cast<int64_t>(H(index, 1) % (kMaxInitial + 1));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = added_.find(index);
    if (it != added_.end()) count += it->second;
  }
  if (growth_period_ > Duration::zero() && now > start_) {
    // A per-character phase spreads the new killmails over the period.
    const double period = std::chrono::duration<double>(growth_period_).count();
    const double phase = static_cast<double>(H(index, 2) % 1000000) / 1e6 * period;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    count += static_cast<int64_t>((elapsed + phase) / period);
  }
  return count;
}

uint32_t KillmailRoutes::PartnerOf(uint32_t index) const {
  uint32_t partner = index ^ 1u;
  return partner < characters_.size() ? partner : index;
}

namespace {
bool Shared(int64_t seq) { return seq % 4 == 1; }
}  // namespace

std::vector<int64_t> KillmailRoutes::ListOf(uint32_t index, TimePoint now) const {
  std::vector<int64_t> ids;
  const int64_t own = CountOf(index, now);
  for (int64_t s = 0; s < own; ++s) ids.push_back(kKillmailIdBase + s * kIdStride + index);
  const uint32_t partner = PartnerOf(index);
  if (partner != index) {
    const int64_t theirs = CountOf(partner, now);
    for (int64_t s = 1; s < theirs; s += 4)
      ids.push_back(kKillmailIdBase + s * kIdStride + partner);
  }
  std::sort(ids.rbegin(), ids.rend());
  return ids;
}

KillmailRoutes::CachedList KillmailRoutes::CurrentList(uint32_t index, TimePoint now) const {
  std::lock_guard<std::mutex> lock(lists_mu_);
  auto it = lists_.find(index);
  if (it == lists_.end() || now >= it->second.built + list_cache_) {
    if (lists_.size() >= kMaxCachedLists) {
      // Only lists past their Expires go: a live one must not change early.
      for (auto e = lists_.begin(); e != lists_.end();) {
        e = now >= e->second.built + list_cache_ ? lists_.erase(e) : std::next(e);
      }
    }
    CachedList fresh{std::chrono::time_point_cast<std::chrono::seconds>(now), ListOf(index, now)};
    it = lists_.insert_or_assign(index, std::move(fresh)).first;
  }
  return it->second;
}

std::optional<std::vector<int64_t>> KillmailRoutes::KillmailIds(int64_t character_id) const {
  auto index = IndexOf(character_id);
  if (!index) return std::nullopt;
  return ListOf(*index, clock_->Now());
}

absl::StatusOr<std::string> KillmailRoutes::IssueToken(int64_t character_id, Duration ttl,
                                                       TimePoint* expires) {
  if (!IndexOf(character_id)) {
    return absl::NotFoundError(absl::StrCat("character ", character_id, " not found"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++tokens_issued_;
  std::string token =
      absl::StrCat("simkm-", character_id, "-",
                   absl::Hex(Mix(seed_ + tokens_issued_ * 7919 + character_id), absl::kZeroPad16));
  *expires = clock_->Now() + ttl;
  tokens_[token] = Token{character_id, *expires};
  return token;
}

absl::StatusOr<int64_t> KillmailRoutes::AddKillmails(int64_t character_id, int count) {
  auto index = IndexOf(character_id);
  if (!index) return absl::NotFoundError(absl::StrCat("character ", character_id, " not found"));
  if (count < 1 || count > kMaxAdd) {
    return absl::InvalidArgumentError(absl::StrCat("count must be in [1, ", kMaxAdd, "]"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    added_[*index] += count;
    added_total_ += count;
  }
  return static_cast<int64_t>(ListOf(*index, clock_->Now()).size());
}

bool KillmailRoutes::Match(const std::vector<absl::string_view>& seg, EsiModuleMatch* m) const {
  if (seg.size() == 4 && seg[0] == "characters" && seg[2] == "killmails" && seg[3] == "recent") {
    m->route = "/characters/{character_id}/killmails/recent/";
    m->group = kRecentGroup;
    m->params = {std::string(seg[1])};
    m->tag = kRecent;
    return true;
  }
  if (seg.size() == 3 && seg[0] == "killmails") {
    m->route = "/killmails/{killmail_id}/{killmail_hash}/";
    m->group = body_group_;
    m->params = {std::string(seg[1]), std::string(seg[2])};
    m->tag = kBody;
    return true;
  }
  return false;
}

std::vector<EsiRouteInfo> KillmailRoutes::Routes() const {
  return {{"/characters/{character_id}/killmails/recent/", kRecentGroup, kRecentScope},
          {"/killmails/{killmail_id}/{killmail_hash}/", body_group_, ""}};
}

void KillmailRoutes::AcceptToken(const std::string& token, int64_t character_id,
                                 TimePoint expires) {
  std::lock_guard<std::mutex> lock(mu_);
  // Forget SSO tokens an hour past their expiry (the SSO forgets them too).
  const TimePoint now = clock_->Now();
  for (auto it = tokens_.begin(); it != tokens_.end();) {
    it = it->second.expires + std::chrono::hours(1) < now ? tokens_.erase(it) : std::next(it);
  }
  tokens_[token] = Token{character_id, expires};
}

std::optional<int64_t> KillmailRoutes::CharacterForToken(absl::string_view token) const {
  const TimePoint now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = tokens_.find(token);
  if (it == tokens_.end() || it->second.expires <= now) return std::nullopt;
  return it->second.character_id;
}

Reply KillmailRoutes::Serve(const EsiModuleMatch& m, const httplib::Request& request) const {
  if (m.tag == kRecent) return Recent(m.params[0], request);
  return Body(m.params[0], m.params[1]);
}

Reply KillmailRoutes::Recent(const std::string& id_text, const httplib::Request& request) const {
  std::optional<int64_t> id = ParseId(id_text);
  if (!id) return Error(400, "Invalid character_id");
  const std::string auth = request.get_header_value("Authorization");
  constexpr absl::string_view kBearer = "Bearer ";
  if (auth.size() <= kBearer.size() ||
      absl::string_view(auth).substr(0, kBearer.size()) != kBearer) {
    return Error(401, "Authorization not provided");
  }
  const TimePoint now = clock_->Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = tokens_.find(auth.substr(kBearer.size()));
    if (it == tokens_.end()) return Error(401, "Invalid token");
    if (it->second.expires <= now) return Error(401, "Token is expired");
    if (it->second.character_id != *id) {
      return Error(403, absl::StrCat("Token is not valid for character ", *id));
    }
  }
  auto index = IndexOf(*id);
  if (!index) return Error(404, "Character not found");
  int64_t page = 1;
  if (request.has_param("page")) {
    std::optional<int64_t> p = ParseId(request.get_param_value("page"));
    if (!p || *p < 1) return Error(400, "page must be a positive integer");
    page = *p;
  }
  const CachedList list = CurrentList(*index, now);
  const std::vector<int64_t>& ids = list.ids;
  const int64_t pages = std::max<int64_t>(
      1, (static_cast<int64_t>(ids.size()) + kKillmailsPerPage - 1) / kKillmailsPerPage);
  nlohmann::json body = nlohmann::json::array();
  const int64_t begin = (page - 1) * kKillmailsPerPage;
  for (int64_t i = begin; i < begin + kKillmailsPerPage && i < static_cast<int64_t>(ids.size());
       ++i) {
    body.push_back({{"killmail_hash", HashOf(ids[i], seed_)}, {"killmail_id", ids[i]}});
  }
  Reply r;
  r.body = body.dump();
  r.cacheable = true;
  r.last_modified = list.built;
  r.expires = list.built + list_cache_;
  r.headers.emplace_back("X-Pages", std::to_string(pages));
  return r;
}

Reply KillmailRoutes::Body(const std::string& id_text, const std::string& hash) const {
  std::optional<int64_t> id = ParseId(id_text);
  if (!id || *id < kKillmailIdBase) return Error(422, "Invalid killmail_id");
  const int64_t seq = (*id - kKillmailIdBase) / kIdStride;
  const uint32_t index = static_cast<uint32_t>((*id - kKillmailIdBase) % kIdStride);
  if (index >= characters_.size() || seq >= CountOf(index, clock_->Now())) {
    return Error(404, "Killmail not found");
  }
  if (hash != HashOf(*id, seed_)) return Error(404, "Invalid killmail_id and/or killmail_hash");

  const uint64_t k = static_cast<uint64_t>(*id);
  auto ship = [&](uint64_t salt) { return kShipTypeIds[H(k, salt) % 8]; };
  auto someone = [&](uint64_t salt) { return characters_[H(k, salt) % characters_.size()]; };
  auto participant = [&](int64_t character_id) {
    nlohmann::json p = {{"character_id", character_id}};
    if (auto c = universe_->FindCharacter(character_id)) {
      p["corporation_id"] = c->corporation_id;
      if (c->alliance_id != 0) p["alliance_id"] = c->alliance_id;
    }
    return p;
  };
  const int64_t owner = characters_[index];
  const uint32_t partner_index = PartnerOf(index);
  const bool shared = Shared(seq) && partner_index != index;
  // Even sequences: the owner died; odd: the owner got the final blow.
  const bool owner_is_victim = seq % 2 == 0;
  int64_t victim_id = owner_is_victim ? owner : (shared ? characters_[partner_index] : someone(3));
  if (victim_id == owner && !owner_is_victim) victim_id = someone(4);
  std::vector<int64_t> attackers;
  if (!owner_is_victim) attackers.push_back(owner);
  if (shared && characters_[partner_index] != victim_id)
    attackers.push_back(characters_[partner_index]);
  const int extra = static_cast<int>(H(k, 5) % 3);
  for (int i = 0; i < extra; ++i) {
    int64_t c = someone(10 + i);
    if (c != victim_id && std::find(attackers.begin(), attackers.end(), c) == attackers.end()) {
      attackers.push_back(c);
    }
  }
  if (attackers.empty()) attackers.push_back(someone(20) == victim_id ? someone(21) : someone(20));

  nlohmann::json victim = participant(victim_id);
  victim["ship_type_id"] = ship(6);
  victim["damage_taken"] = 1000 + H(k, 7) % 50000;
  victim["position"] = {{"x", 1.0e6}, {"y", -2.5e5}, {"z", 3.0e6}};
  if (H(k, 8) % 2 == 0) {
    victim["items"] = nlohmann::json::array(
        {{{"item_type_id", 2048}, {"flag", 27}, {"quantity_destroyed", 1}, {"singleton", 0}}});
  }
  nlohmann::json list = nlohmann::json::array();
  for (size_t i = 0; i < attackers.size(); ++i) {
    nlohmann::json a = participant(attackers[i]);
    a["ship_type_id"] = ship(30 + i);
    a["weapon_type_id"] = 2488;
    a["damage_done"] = 100 + H(k, 40 + i) % 20000;
    a["final_blow"] = i == 0;
    a["security_status"] = -1.5;
    list.push_back(std::move(a));
  }
  nlohmann::json body = {{"killmail_id", *id},
                         {"killmail_time", IsoDate(kTimeBase + seq * 600 + index % 600)},
                         {"solar_system_id", 30000001 + static_cast<int64_t>(H(k, 9) % 5000)},
                         {"victim", victim},
                         {"attackers", list}};
  Reply r;
  r.body = body.dump();
  r.cacheable = true;
  r.cache_seconds = 30 * 24 * 3600;  // killmails never change
  r.last_modified = FromUnixSeconds(static_cast<double>(kTimeBase + seq * 600));
  return r;
}

void KillmailRoutes::RegisterControl(httplib::Server& server) {
  server.Post("/sim/tokens", [this](const httplib::Request& req, httplib::Response& res) {
    int64_t ttl_s = 24 * 3600;
    if (req.has_param("ttl_s")) {
      auto t = IntParam(req, "ttl_s");
      if (!t || *t < 1) return SendJson(res, 400, {{"error", "ttl_s must be a positive integer"}});
      ttl_s = *t;
    }
    std::vector<int64_t> ids;
    if (req.has_param("character_id")) {
      auto id = IntParam(req, "character_id");
      if (!id) return SendJson(res, 400, {{"error", "character_id must be a positive integer"}});
      ids.push_back(*id);
    } else if (req.has_param("count")) {
      auto n = IntParam(req, "count");
      if (!n || *n < 1) return SendJson(res, 400, {{"error", "count must be a positive integer"}});
      for (int64_t i = 0; i < *n && i < static_cast<int64_t>(characters_.size()); ++i) {
        ids.push_back(characters_[i]);
      }
    } else {
      return SendJson(res, 400, {{"error", "want ?character_id=ID or ?count=N"}});
    }
    nlohmann::json out = nlohmann::json::array();
    for (int64_t id : ids) {
      TimePoint expires;
      auto token = IssueToken(id, std::chrono::seconds(ttl_s), &expires);
      if (!token.ok())
        return SendJson(res, 404, {{"error", std::string(token.status().message())}});
      out.push_back({{"character_id", id},
                     {"access_token", *token},
                     {"expires_at", IsoDate(static_cast<int64_t>(ToUnixSeconds(expires)))}});
    }
    SendJson(res, 200, req.has_param("character_id") ? out[0] : out);
  });
  server.Post("/sim/killmails", [this](const httplib::Request& req, httplib::Response& res) {
    auto id = IntParam(req, "character_id");
    auto count = IntParam(req, "count");
    if (!id || !count) {
      return SendJson(res, 400, {{"error", "want ?character_id=ID&count=N"}});
    }
    auto total = AddKillmails(*id, static_cast<int>(std::min<int64_t>(*count, kMaxAdd + 1)));
    if (!total.ok()) {
      return SendJson(res, absl::IsNotFound(total.status()) ? 404 : 400,
                      {{"error", std::string(total.status().message())}});
    }
    auto ids = KillmailIds(*id);
    SendJson(res, 200,
             {{"character_id", *id},
              {"added", *count},
              {"total", *total},
              {"newest_killmail_id", ids->empty() ? 0 : ids->front()}});
  });
  server.Get("/sim/killmails", [this](const httplib::Request& req, httplib::Response& res) {
    auto id = IntParam(req, "character_id");
    if (!id) return SendJson(res, 400, {{"error", "want ?character_id=ID"}});
    auto ids = KillmailIds(*id);
    if (!ids) return SendJson(res, 404, {{"error", "character not found"}});
    const int64_t n = static_cast<int64_t>(ids->size());
    SendJson(res, 200,
             {{"character_id", *id},
              {"total", n},
              {"newest_killmail_id", ids->empty() ? 0 : ids->front()},
              {"pages", std::max<int64_t>(1, (n + kKillmailsPerPage - 1) / kKillmailsPerPage)}});
  });
}

nlohmann::json KillmailRoutes::Summary() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {{"killmails",
           {{"characters", characters_.size()},
            {"tokens_issued", tokens_issued_},
            {"killmails_added", added_total_},
            {"growth_period_seconds",
             std::chrono::duration_cast<std::chrono::seconds>(growth_period_).count()}}}};
}

std::unique_ptr<EsiModule> MakeKillmailRoutes(const Universe* universe, const SimConfig& config,
                                              const Clock* clock) {
  int64_t period_s = 21600;
  if (const char* env = std::getenv("SIM_KILLMAIL_GROWTH_PERIOD_S")) {
    int64_t v = 0;
    if (absl::SimpleAtoi(env, &v) && v >= 0) period_s = v;
  }
  return std::make_unique<KillmailRoutes>(universe, config, clock, std::chrono::seconds(period_s));
}

}  // namespace sluice::sim
