#include "sim/poe_routes.h"

#include <absl/strings/match.h>
#include <absl/strings/numbers.h>
#include <absl/strings/str_cat.h>
#include <absl/strings/str_format.h>
#include <absl/strings/str_split.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace sluice::sim {
namespace {

using Kind = PoeMatch::Kind;
constexpr int64_t kHour = 3600;
// How far back the simulated exchange history goes when no cursor is given.
constexpr int64_t kExchangeHistoryHours = 24 * 7;

// Change id of page n: shard i's counter is kShardBase[i] + n * kShardStep[i],
// so every counter grows page after page, at different paces like PoE's.
constexpr int64_t kShardBase[] = {1000, 2000, 3000, 4000, 5000};
constexpr int64_t kShardStep[] = {3, 5, 7, 2, 4};
constexpr int kShards = 5;
// Stash ids are drawn from this many per realm (prime: a page never repeats
// one), so later pages update stashes seen before, as on the real stream.
constexpr int64_t kStashPool = 10007;

bool IsRealm(absl::string_view s) { return s == "xbox" || s == "sony"; }

// Change ids look like "2107-3368-2939-3921-1210": dash-separated integers.
bool ValidChangeId(absl::string_view id) {
  if (id.empty() || id.size() > 200) return false;
  for (absl::string_view part : absl::StrSplit(id, '-')) {
    if (part.empty() || part.size() > 18) return false;
    for (char c : part) {
      if (c < '0' || c > '9') return false;
    }
  }
  return true;
}

Reply Error(int status, int code, absl::string_view message) {
  return Reply{status, PoeError(code, message), false, 0, {}};
}

// splitmix64: a deterministic stream of numbers from a seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  int64_t Uniform(int64_t lo, int64_t hi) {  // [lo, hi]
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Chance(int percent) { return Uniform(0, 99) < percent; }

 private:
  uint64_t state_;
};

uint64_t Seed(const std::string& realm, uint64_t a, uint64_t b) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : realm) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  Rng rng(h ^ (a * 0x100000001b3ULL) ^ (b << 17));
  return rng.Next();
}

std::string Hex64(Rng& rng) {
  return absl::StrFormat("%016x%016x%016x%016x", rng.Next(), rng.Next(), rng.Next(), rng.Next());
}

struct ItemBase {
  const char* type_line;
  const char* base_type;
  const char* name;
  int frame_type;  // 0 normal, 2 rare, 3 unique, 4 gem, 5 currency
  int max_stack;   // 0 = not stackable
};
constexpr ItemBase kItems[] = {
    {"Chaos Orb", "Chaos Orb", "", 5, 20},
    {"Divine Orb", "Divine Orb", "", 5, 10},
    {"Exalted Orb", "Exalted Orb", "", 5, 10},
    {"Orb of Alteration", "Orb of Alteration", "", 5, 20},
    {"Vaal Regalia", "Vaal Regalia", "Doom Shell", 2, 0},
    {"Hubris Circlet", "Hubris Circlet", "Loath Crown", 2, 0},
    {"Simple Robe", "Simple Robe", "Tabula Rasa", 3, 0},
    {"Leather Belt", "Leather Belt", "Headhunter", 3, 0},
    {"Fireball", "Fireball", "", 4, 0},
    {"Sapphire Ring", "Sapphire Ring", "", 0, 0},
};
constexpr const char* kLeagues[] = {"Standard", "Settlers", "Hardcore Settlers", "Hardcore"};
constexpr const char* kStashTypes[] = {"PremiumStash", "QuadStash", "CurrencyStash", "NormalStash"};

std::string PriceNote(Rng& rng) {
  const bool divine = rng.Chance(30);
  const char* verb = rng.Chance(50) ? "~price" : "~b/o";
  if (divine) {
    // Divines are often priced in halves.
    const int64_t halves = rng.Uniform(1, 20);
    return halves % 2 == 0 ? absl::StrCat(verb, " ", halves / 2, " divine")
                           : absl::StrCat(verb, " ", halves / 2, ".5 divine");
  }
  return absl::StrCat(verb, " ", rng.Uniform(1, 300), " chaos");
}

std::set<int64_t> ParseHours(const char* text) {
  std::set<int64_t> out;
  if (text == nullptr) return out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    int64_t h = 0;
    if (absl::SimpleAtoi(part, &h)) out.insert(h / kHour * kHour);
  }
  return out;
}

std::mutex& ConfigMu() {
  static std::mutex mu;
  return mu;
}
PoeStreamConfig& ConfigLocked() {
  static PoeStreamConfig config = PoeStreamConfig::FromEnvironment();
  return config;
}

}  // namespace

PoeStreamConfig PoeStreamConfig::FromEnvironment() {
  PoeStreamConfig c;
  if (const char* v = std::getenv("SIM_POE_BACKLOG_PAGES")) {
    (void)absl::SimpleAtoi(v, &c.backlog_pages);
  }
  if (const char* v = std::getenv("SIM_POE_PAGES_PER_SECOND")) {
    (void)absl::SimpleAtod(v, &c.pages_per_second);
  }
  if (const char* v = std::getenv("SIM_POE_STASHES_PER_PAGE")) {
    (void)absl::SimpleAtoi(v, &c.stashes_per_page);
  }
  c.missing_hours = ParseHours(std::getenv("SIM_POE_MISSING_HOURS"));
  c.skipped_hours = ParseHours(std::getenv("SIM_POE_SKIPPED_HOURS"));
  return c;
}

void PoeRoutes::SetStreamConfig(const PoeStreamConfig& config) {
  std::lock_guard<std::mutex> lock(ConfigMu());
  ConfigLocked() = config;
}

PoeStreamConfig PoeRoutes::StreamConfig() {
  std::lock_guard<std::mutex> lock(ConfigMu());
  return ConfigLocked();
}

PoeRoutes::PoeRoutes(const Clock* clock) : PoeRoutes(clock, StreamConfig()) {}

PoeRoutes::PoeRoutes(const Clock* clock, PoeStreamConfig config)
    : clock_(clock), config_(std::move(config)), origin_(clock->Now()) {}

bool PoeRoutes::Owns(absl::string_view path) {
  return absl::StartsWith(path, "/public-stash-tabs") ||
         absl::StartsWith(path, "/currency-exchange");
}

PoeMatch PoeRoutes::Match(absl::string_view path) const {
  std::vector<absl::string_view> seg = absl::StrSplit(path, '/', absl::SkipEmpty());
  PoeMatch m;
  m.route = "(unknown)";
  if (seg.empty()) return m;
  if (seg[0] == "public-stash-tabs") {
    if (seg.size() == 1) {
      m.kind = Kind::kStash;
      m.route = "/public-stash-tabs";
    } else if (seg.size() == 2 && IsRealm(seg[1])) {
      m.kind = Kind::kStash;
      m.route = "/public-stash-tabs/{realm}";
      m.realm = std::string(seg[1]);
    }
    if (m.kind == Kind::kStash) m.policy = kPoeStashPolicy;
  } else if (seg[0] == "currency-exchange") {
    if (seg.size() == 1) {
      m.kind = Kind::kExchange;
      m.route = "/currency-exchange";
    } else if (seg.size() == 2 && IsRealm(seg[1])) {
      m.kind = Kind::kExchange;
      m.route = "/currency-exchange/{realm}";
      m.realm = std::string(seg[1]);
    } else if (seg.size() == 2) {
      m.kind = Kind::kExchange;
      m.route = "/currency-exchange/{id}";
      m.id = std::string(seg[1]);
    } else if (seg.size() == 3 && IsRealm(seg[1])) {
      m.kind = Kind::kExchange;
      m.route = "/currency-exchange/{realm}/{id}";
      m.realm = std::string(seg[1]);
      m.id = std::string(seg[2]);
    }
    if (m.kind == Kind::kExchange) m.policy = kPoeExchangePolicy;
  }
  return m;
}

Reply PoeRoutes::Serve(const PoeMatch& m, const httplib::Request& request) const {
  switch (m.kind) {
    case Kind::kStash: {
      std::string id = request.get_param_value("id");
      if (request.has_param("id") && !ValidChangeId(id)) {
        return Error(400, 2, "Invalid query: id must look like 1234-5678-9012-3456-7890");
      }
      return StashPage(m.realm, id);
    }
    case Kind::kExchange: {
      int64_t now = static_cast<int64_t>(ToUnixSeconds(clock_->Now()));
      if (m.id.empty())
        return ExchangePage(m.realm, now / kHour * kHour - kExchangeHistoryHours * kHour);
      std::optional<int64_t> id = ParseId(m.id);
      if (!id) return Error(400, 2, "Invalid query: id must be a unix timestamp");
      return ExchangePage(m.realm, *id / kHour * kHour);
    }
    case Kind::kUnknown:
      break;
  }
  return Error(404, 1, "Resource not found");
}

std::string PoeRoutes::ChangeIdOf(int64_t page) {
  std::string out;
  for (int i = 0; i < kShards; ++i) {
    absl::StrAppend(&out, i == 0 ? "" : "-", kShardBase[i] + page * kShardStep[i]);
  }
  return out;
}

std::optional<int64_t> PoeRoutes::PageOf(absl::string_view change_id) {
  std::vector<absl::string_view> parts = absl::StrSplit(change_id, '-');
  if (parts.size() != kShards) return std::nullopt;
  int64_t first = 0;
  if (!absl::SimpleAtoi(parts[0], &first) || first < kShardBase[0] ||
      (first - kShardBase[0]) % kShardStep[0] != 0) {
    return std::nullopt;
  }
  const int64_t page = (first - kShardBase[0]) / kShardStep[0];
  if (ChangeIdOf(page) != change_id) return std::nullopt;
  return page;
}

int64_t PoeRoutes::AvailablePages() const {
  const double elapsed = std::max(0.0, ToUnixSeconds(clock_->Now()) - ToUnixSeconds(origin_));
  return config_.backlog_pages +
         static_cast<int64_t>(std::floor(elapsed * config_.pages_per_second));
}

nlohmann::json PoeRoutes::StashesOf(const std::string& realm, int64_t page) const {
  nlohmann::json stashes = nlohmann::json::array();
  const int64_t per_page = std::min<int64_t>(config_.stashes_per_page, kStashPool);
  for (int64_t j = 0; j < per_page; ++j) {
    // Distinct within a page: (page * per_page + j) is distinct and 7919 is
    // coprime with the prime pool size.
    const int64_t slot = ((page * per_page + j) % kStashPool) * 7919 % kStashPool;
    Rng owner(Seed(realm, static_cast<uint64_t>(slot), 0));  // the stash's fixed traits
    Rng rng(Seed(realm, static_cast<uint64_t>(slot), static_cast<uint64_t>(page) + 1));
    nlohmann::json stash;
    stash["id"] = Hex64(owner);
    const std::string league = kLeagues[owner.Uniform(0, 3)];
    const std::string account = absl::StrCat("Exile", owner.Uniform(1, 2000));
    const std::string type = kStashTypes[owner.Uniform(0, 3)];
    if (rng.Chance(5)) {
      // Made private or emptied: PoE sends the stash with no league or items.
      stash["public"] = false;
      stash["accountName"] = account;
      stash["stash"] = nullptr;
      stash["stashType"] = type;
      stash["league"] = nullptr;
      stash["items"] = nlohmann::json::array();
      stashes.push_back(std::move(stash));
      continue;
    }
    stash["public"] = true;
    stash["accountName"] = account;
    // Some stashes price everything in them through the stash name.
    stash["stash"] = rng.Chance(10) ? PriceNote(rng) : absl::StrCat("Trade ", owner.Uniform(1, 9));
    stash["stashType"] = type;
    stash["league"] = league;
    nlohmann::json items = nlohmann::json::array();
    const int64_t n = rng.Uniform(0, 8);
    for (int64_t k = 0; k < n; ++k) {
      const ItemBase& base = kItems[rng.Uniform(0, static_cast<int64_t>(std::size(kItems)) - 1)];
      nlohmann::json item;
      item["id"] = Hex64(rng);
      item["name"] = base.name;
      item["typeLine"] = base.type_line;
      item["baseType"] = base.base_type;
      item["frameType"] = base.frame_type;
      item["ilvl"] = base.frame_type == 5 ? 0 : rng.Uniform(1, 86);
      item["league"] = league;
      item["verified"] = true;
      if (base.max_stack > 0) {
        item["stackSize"] = rng.Uniform(1, base.max_stack);
        item["maxStackSize"] = base.max_stack;
      }
      if (rng.Chance(60)) item["note"] = PriceNote(rng);
      items.push_back(std::move(item));
    }
    stash["items"] = std::move(items);
    stashes.push_back(std::move(stash));
  }
  return stashes;
}

Reply PoeRoutes::StashPage(const std::string& realm, const std::string& change_id) const {
  std::optional<int64_t> page = change_id.empty() ? std::optional<int64_t>(0) : PageOf(change_id);
  // At the head, or an id not on the stream: an empty page that keeps the
  // cursor where it is; a correct client polls the same id again.
  if (!page || *page >= AvailablePages()) {
    nlohmann::json body = {{"next_change_id", change_id.empty() ? ChangeIdOf(0) : change_id},
                           {"stashes", nlohmann::json::array()}};
    return Reply{200, body.dump(), false, 0, {}};
  }
  nlohmann::json body = {{"next_change_id", ChangeIdOf(*page + 1)},
                         {"stashes", StashesOf(realm, *page)}};
  return Reply{200, body.dump(), false, 0, {}};
}

nlohmann::json PoeRoutes::MarketsOf(const std::string& realm, int64_t hour) const {
  nlohmann::json markets = nlohmann::json::array();
  if (config_.missing_hours.count(hour) > 0 || config_.skipped_hours.count(hour) > 0) {
    return markets;
  }
  struct Pair {
    const char* id;
    const char* have;
    const char* want;
    double base_ratio;  // `have` per one `want`
  };
  constexpr Pair kPairs[] = {{"chaos|divine", "chaos", "divine", 200.0},
                             {"chaos|exalted", "chaos", "exalted", 15.0},
                             {"divine|mirror", "divine", "mirror", 1200.0},
                             {"chaos|alt", "chaos", "alt", 0.1}};
  for (const char* league : {"Standard", "Settlers", "Hardcore Settlers"}) {
    for (const Pair& p : kPairs) {
      Rng rng(Seed(realm + league + p.id, static_cast<uint64_t>(hour), 7));
      // Drift by hour, +-10 %.
      const double ratio = p.base_ratio * (0.9 + static_cast<double>(rng.Uniform(0, 200)) / 1000);
      const double spread = 1.0 + static_cast<double>(rng.Uniform(1, 50)) / 1000;
      const int64_t want_volume = rng.Uniform(1, 500);
      auto round2 = [](double v) { return std::round(v * 100) / 100; };
      nlohmann::json m;
      m["league"] = league;
      m["market_id"] = p.id;
      m["volume_traded"] = {{p.have, round2(want_volume * ratio)}, {p.want, want_volume}};
      m["lowest_stock"] = {{p.have, rng.Uniform(1, 100)}, {p.want, rng.Uniform(1, 10)}};
      m["highest_stock"] = {{p.have, rng.Uniform(1000, 50000)}, {p.want, rng.Uniform(50, 500)}};
      m["lowest_ratio"] = {{p.have, round2(ratio)}, {p.want, 1}};
      m["highest_ratio"] = {{p.have, round2(ratio * spread)}, {p.want, 1}};
      markets.push_back(std::move(m));
    }
  }
  return markets;
}

Reply PoeRoutes::ExchangePage(const std::string& realm, int64_t hour) const {
  int64_t now = static_cast<int64_t>(ToUnixSeconds(clock_->Now()));
  // An hour is published once it has ended; until then the cursor stays put.
  if (hour + kHour > now) {
    nlohmann::json body = {{"next_change_id", hour}, {"markets", nlohmann::json::array()}};
    return Reply{200, body.dump(), false, 0, {}};
  }
  int64_t next = hour + kHour;
  // Skipped hours are jumped over (up to the current hour).
  while (config_.skipped_hours.count(next) > 0 && next + kHour <= now) next += kHour;
  nlohmann::json body = {{"next_change_id", next}, {"markets", MarketsOf(realm, hour)}};
  return Reply{200, body.dump(), false, 0, {}};
}

}  // namespace sluice::sim
