#include "sim/contract_routes.h"

#include <glog/logging.h>

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace sluice::sim {
namespace {

using nlohmann::json;

enum Tag { kRegion = 1, kItems = 2, kType = 3 };

// Real type ids and group ids (ships first).
const std::vector<SimType> kTypes = {
    {587, "Rifter", 25, 27289, 2500, true},
    {603, "Merlin", 25, 16500, 2500, true},
    {626, "Vexor", 26, 115000, 10000, true},
    {24690, "Drake", 419, 252000, 15000, true},
    {16227, "Ferox", 419, 252000, 15000, true},
    {17738, "Machariel", 27, 595000, 50000, true},
    {641, "Megathron", 27, 486000, 50000, true},
    {648, "Badger", 28, 250000, 20000, true},
    {20183, "Providence", 513, 15500000, 1000000, true},
    {17476, "Covetor", 463, 200000, 3750, true},
    {11176, "Crow", 831, 28000, 2500, true},
    {11978, "Scimitar", 832, 89000, 10000, true},
    {12034, "Hound", 834, 28100, 2500, true},
    {28710, "Golem", 900, 500000, 50000, true},
    {16236, "Coercer", 420, 47000, 5000, true},
    {11567, "Avatar", 30, 155000000, 10000000, true},
    {33468, "Astero", 1283, 18000, 2500, true},
    {670, "Capsule", 29, 1000, 1000, false},
    {34, "Tritanium", 18, 0.01, 0.01, false},
    {35, "Pyerite", 18, 0.01, 0.01, false},
    {36, "Mexallon", 18, 0.01, 0.01, false},
    {2046, "Damage Control I", 60, 5, 5, false},
    {2205, "Acolyte I", 100, 5, 5, false},
    {691, "Rifter Blueprint", 105, 0.01, 0.01, false},
};

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Reply JsonReply(int status, const json& body, int cache_seconds, TimePoint last_modified) {
  Reply r;
  r.status = status;
  r.body = body.dump();
  r.cacheable = status == 200;
  r.cache_seconds = cache_seconds;
  r.last_modified = last_modified;
  return r;
}

Reply ErrorReply(int status, const std::string& message) {
  Reply r;
  r.status = status;
  r.body = EsiError(message);
  return r;
}

std::vector<const SimType*> ShipTypes() {
  std::vector<const SimType*> out;
  for (const SimType& t : kTypes) {
    if (t.ship) out.push_back(&t);
  }
  return out;
}

std::vector<const SimType*> OtherTypes() {
  std::vector<const SimType*> out;
  for (const SimType& t : kTypes) {
    if (!t.ship && t.group_id != 29 && t.group_id != 105) out.push_back(&t);
  }
  return out;
}

int64_t Unix(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// Items of a generated contract: ship alone, ship stack, ship with extras,
// two ships, non-ship goods, a blueprint copy; sometimes an item asked in return.
json GeneratedItems(uint64_t h, int64_t contract_id) {
  static const std::vector<const SimType*> ships = ShipTypes();
  static const std::vector<const SimType*> others = OtherTypes();
  json items = json::array();
  int64_t record = contract_id * 10;
  auto add = [&](int64_t type_id, int64_t quantity, bool included, bool singleton) {
    items.push_back({{"record_id", ++record},
                     {"type_id", type_id},
                     {"quantity", quantity},
                     {"is_included", included},
                     {"is_singleton", singleton}});
  };
  const SimType* ship = ships[(h >> 8) % ships.size()];
  const SimType* other = others[(h >> 16) % others.size()];
  const int profile = static_cast<int>((h >> 24) % 100);
  if (profile < 40) {
    add(ship->type_id, 1, true, true);
  } else if (profile < 50) {
    add(ship->type_id, 2 + static_cast<int64_t>((h >> 32) % 4), true, false);
  } else if (profile < 65) {
    add(ship->type_id, 1, true, true);
    for (int i = 0; i < 1 + static_cast<int>((h >> 36) % 3); ++i) {
      add(others[(h >> (40 + i)) % others.size()]->type_id, 1 + (h >> 44) % 500, true, false);
    }
  } else if (profile < 75) {
    add(ship->type_id, 1, true, true);
    add(ships[(h >> 12) % ships.size()]->type_id, 1, true, true);
  } else if (profile < 90) {
    add(other->type_id, 1 + (h >> 44) % 10000, true, false);
  } else {
    items.push_back({{"record_id", ++record},
                     {"type_id", 691},
                     {"quantity", 1},
                     {"is_included", true},
                     {"is_singleton", true},
                     {"is_blueprint_copy", true},
                     {"material_efficiency", static_cast<int>((h >> 32) % 11)},
                     {"time_efficiency", 2 * static_cast<int>((h >> 36) % 11)},
                     {"runs", 1 + static_cast<int>((h >> 40) % 20)}});
  }
  if ((h >> 50) % 20 == 0) add(other->type_id, 100, false, false);
  return items;
}

}  // namespace

const std::vector<SimType>& SimTypes() { return kTypes; }

ContractRoutes::ContractRoutes(const SimConfig& config, const Clock* clock,
                               ContractSimSettings settings)
    : seed_(config.universe.seed),
      clock_(clock),
      // Whole hours: a restart within the hour lists the same contracts.
      epoch_(FromUnixSeconds(static_cast<double>(Unix(clock->Now()) / 3600 * 3600))),
      settings_(std::move(settings)) {}

// ESI puts more and more routes into rate-limit groups; these two are
// configured like the others (SimConfig::esi_groups). A route whose group is
// not configured has no group limit and sends no group headers.
constexpr char kContractGroup[] = "contracts";
constexpr char kUniverseGroup[] = "universe";

bool ContractRoutes::Match(const std::vector<absl::string_view>& seg, EsiModuleMatch* m) const {
  if (seg.size() == 3 && seg[0] == "contracts" && seg[1] == "public") {
    *m = {"/contracts/public/{region_id}/", kContractGroup, {std::string(seg[2])}, kRegion};
    return true;
  }
  if (seg.size() == 4 && seg[0] == "contracts" && seg[1] == "public" && seg[2] == "items") {
    *m = {"/contracts/public/items/{contract_id}/", kContractGroup, {std::string(seg[3])}, kItems};
    return true;
  }
  if (seg.size() == 3 && seg[0] == "universe" && seg[1] == "types") {
    *m = {"/universe/types/{type_id}/", kUniverseGroup, {std::string(seg[2])}, kType};
    return true;
  }
  return false;
}

std::vector<EsiRouteInfo> ContractRoutes::Routes() const {
  return {{"/contracts/public/{region_id}/", kContractGroup, ""},
          {"/contracts/public/items/{contract_id}/", kContractGroup, ""},
          {"/universe/types/{type_id}/", kUniverseGroup, ""}};
}

Reply ContractRoutes::Serve(const EsiModuleMatch& m, const httplib::Request& request) const {
  switch (m.tag) {
    case kRegion:
      return RegionPage(m.params[0], request);
    case kItems:
      return Items(m.params[0]);
    case kType:
      return Type(m.params[0]);
  }
  return ErrorReply(404, "Not found");
}

int64_t ContractRoutes::FirstIndex(const ContractSimSettings& s) const {
  return FirstIndexAt(s, clock_->Now());
}

int64_t ContractRoutes::FirstIndexAt(const ContractSimSettings& s, TimePoint at) const {
  const double dt = static_cast<double>(s.lifetime_s) / std::max(1, s.per_region);
  const double elapsed = ToUnixSeconds(at) - ToUnixSeconds(epoch_);
  return static_cast<int64_t>(std::floor(std::max(0.0, elapsed) / dt)) + 1;
}

json ContractRoutes::ContractJson(const ContractSimSettings& s, int slot, int64_t index) const {
  const int64_t id = 200000000 + static_cast<int64_t>(slot) * 20000000 + index;
  const uint64_t h = Mix(seed_ ^ Mix(static_cast<uint64_t>(id)));
  const double dt = static_cast<double>(s.lifetime_s) / std::max(1, s.per_region);
  const int64_t issued =
      Unix(epoch_) + static_cast<int64_t>(std::floor((index - s.per_region) * dt));
  const int kind = static_cast<int>(h % 100);
  const char* type = kind < 60 ? "item_exchange" : kind < 80 ? "auction" : "courier";
  json c = {{"contract_id", id},
            {"type", type},
            {"issuer_id", 90000000 + static_cast<int64_t>((h >> 8) % 2000000)},
            {"issuer_corporation_id", 98000000 + static_cast<int64_t>((h >> 20) % 500000)},
            {"date_issued", IsoDate(issued)},
            {"date_expired", IsoDate(issued + s.lifetime_s)},
            {"for_corporation", (h >> 40) % 10 == 0},
            {"start_location_id", 60003760},
            {"end_location_id", 60003760},
            {"volume", static_cast<double>((h >> 12) % 100000) / 10.0},
            {"title", (h >> 44) % 3 == 0 ? "" : absl::StrCat("WTS lot ", id % 1000)}};
  const double price = static_cast<double>((h >> 16) % 5000000) * 1000.0;
  if (kind < 60) {
    c["price"] = price;
  } else if (kind < 80) {
    c["price"] = price / 2;
    c["buyout"] = price;
  } else {
    c["reward"] = static_cast<double>((h >> 16) % 50000) * 1000.0;
    c["collateral"] = price;
    c["days_to_complete"] = 1 + static_cast<int>((h >> 28) % 14);
    c["end_location_id"] = 60008494;
  }
  return c;
}

std::vector<int64_t> ContractRoutes::ListedIds(int64_t region_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<int64_t> out;
  auto it = std::find(settings_.regions.begin(), settings_.regions.end(), region_id);
  if (it == settings_.regions.end()) return out;
  const int slot = static_cast<int>(it - settings_.regions.begin());
  const int64_t first = FirstIndex(settings_);
  for (int64_t i = first; i < first + settings_.per_region; ++i) {
    out.push_back(200000000 + static_cast<int64_t>(slot) * 20000000 + i);
  }
  if (auto p = poison_.find(region_id); p != poison_.end()) {
    for (const Poison& x : p->second) out.push_back(x.contract_id);
  }
  return out;
}

Reply ContractRoutes::RegionPage(absl::string_view region_text,
                                 const httplib::Request& request) const {
  std::optional<int64_t> region = ParseId(region_text);
  if (!region) return ErrorReply(400, "Invalid region_id");
  if (*region < 10000001 || *region > 10001000) return ErrorReply(404, "Region not found");
  int64_t page = 1;
  if (request.has_param("page")) {
    std::optional<int64_t> p = ParseId(request.get_param_value("page"));
    if (!p || *p < 1) return ErrorReply(400, "Invalid page");
    page = *p;
  }
  std::lock_guard<std::mutex> lock(mu_);
  const ContractSimSettings& s = settings_;
  // ESI caches a region's list for everyone: until it expires, every page
  // comes from the version built when it was first asked for, with that
  // Last-Modified (developers.eveonline.com/docs/services/esi/pagination/x-pages/).
  const TimePoint now = clock_->Now();
  TimePoint& built = built_[*region];
  if (built == TimePoint() || now >= built + std::chrono::seconds(s.cache_seconds)) {
    built = std::chrono::time_point_cast<std::chrono::seconds>(now);
  }
  auto it = std::find(s.regions.begin(), s.regions.end(), *region);
  json all = json::array();
  if (it != s.regions.end()) {
    const int slot = static_cast<int>(it - s.regions.begin());
    const int64_t first = FirstIndexAt(s, built);
    const int64_t total =
        s.per_region +
        static_cast<int64_t>(poison_.count(*region) ? poison_.at(*region).size() : 0);
    const int64_t begin = (page - 1) * s.page_size;
    const int64_t end = std::min<int64_t>(total, begin + s.page_size);
    for (int64_t k = begin; k < end; ++k) {
      if (k < s.per_region) {
        all.push_back(ContractJson(s, slot, first + k));
        continue;
      }
      const Poison& p = poison_.at(*region)[static_cast<size_t>(k - s.per_region)];
      json c = ContractJson(s, slot, first);
      c["contract_id"] = p.contract_id;
      switch (p.mode) {
        case PoisonMode::kMalformed:
          c["issuer_id"] = "not-a-number";
          break;
        case PoisonMode::kDb:
          // Parses, but the database refuses it: expires before it was issued.
          c["date_expired"] = IsoDate(Unix(clock_->Now()) - 86400 * 30);
          c["date_issued"] = IsoDate(Unix(clock_->Now()) - 3600);
          break;
        case PoisonMode::kItemsMalformed:
        case PoisonMode::kItemsTruncated:
          // A sound contract whose item list is the poison (couriers have
          // no items to fetch).
          c["type"] = "item_exchange";
          break;
      }
      all.push_back(c);
    }
    const int64_t pages = std::max<int64_t>(1, (total + s.page_size - 1) / s.page_size);
    if (page > pages) return ErrorReply(404, "Requested page does not exist!");
    Reply r = JsonReply(200, all, s.cache_seconds, built);
    r.expires = built + std::chrono::seconds(s.cache_seconds);
    r.headers.emplace_back("X-Pages", std::to_string(pages));
    return r;
  }
  if (page > 1) return ErrorReply(404, "Requested page does not exist!");
  Reply r = JsonReply(200, all, s.cache_seconds, built);
  r.expires = built + std::chrono::seconds(s.cache_seconds);
  r.headers.emplace_back("X-Pages", "1");
  return r;
}

Reply ContractRoutes::Items(absl::string_view contract_text) const {
  std::optional<int64_t> id = ParseId(contract_text);
  if (!id) return ErrorReply(400, "Invalid contract_id");
  std::lock_guard<std::mutex> lock(mu_);
  const ContractSimSettings& s = settings_;
  const int64_t offset = *id - 200000000;
  if (offset >= 0 && offset / 20000000 < static_cast<int64_t>(s.regions.size())) {
    const int slot = static_cast<int>(offset / 20000000);
    const int64_t index = offset % 20000000;
    // A contract stays answerable while a cached list still shows it, as a
    // reader of that list would otherwise find its items gone.
    const int64_t first = FirstIndex(s);
    int64_t oldest = first;
    if (auto b = built_.find(s.regions[static_cast<size_t>(slot)]); b != built_.end()) {
      oldest = std::min(oldest, FirstIndexAt(s, b->second));
    }
    if (index >= oldest && index < first + s.per_region) {
      json c = ContractJson(s, slot, index);
      if (c["type"] == "courier") {
        Reply none;  // ESI: a courier contract has no items to list
        none.status = 204;
        return none;
      }
      const uint64_t h = Mix(seed_ ^ Mix(static_cast<uint64_t>(*id)) ^ 0x17);
      Reply r = JsonReply(200, GeneratedItems(h, *id), s.detail_cache_seconds, epoch_);
      r.headers.emplace_back("X-Pages", "1");
      return r;
    }
  }
  for (const auto& [region, list] : poison_) {
    for (const Poison& p : list) {
      if (p.contract_id != *id) continue;
      json items = GeneratedItems(Mix(static_cast<uint64_t>(*id)), *id);
      if (p.mode == PoisonMode::kItemsMalformed || p.mode == PoisonMode::kItemsTruncated) {
        ++poison_item_fetches_;
        if (!items.empty()) items[0]["quantity"] = "many";
      }
      Reply r = JsonReply(200, items, s.detail_cache_seconds, epoch_);
      if (p.mode == PoisonMode::kItemsTruncated) r.body.resize(r.body.size() / 2);
      r.headers.emplace_back("X-Pages", "1");
      return r;
    }
  }
  return ErrorReply(404, "Contract not found!");
}

Reply ContractRoutes::Type(absl::string_view type_text) const {
  std::optional<int64_t> id = ParseId(type_text);
  if (!id) return ErrorReply(400, "Invalid type_id");
  int cache_seconds = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cache_seconds = settings_.detail_cache_seconds;
    auto f = type_failures_.find(*id);
    if (f != type_failures_.end()) {
      return ErrorReply(f->second, f->second == 404 ? "Type not found!" : "Internal error");
    }
  }
  for (const SimType& t : kTypes) {
    if (t.type_id != *id) continue;
    json body = {{"type_id", t.type_id},
                 {"name", t.name},
                 {"description", absl::StrCat("The ", t.name, ".")},
                 {"group_id", t.group_id},
                 {"published", true},
                 {"volume", t.volume},
                 {"packaged_volume", t.packaged_volume}};
    return JsonReply(200, body, cache_seconds, epoch_);
  }
  return ErrorReply(404, "Type not found!");
}

void ContractRoutes::set_settings(const ContractSimSettings& settings) {
  std::lock_guard<std::mutex> lock(mu_);
  settings_ = settings;
}

absl::StatusOr<int64_t> ContractRoutes::AddPoison(int64_t region_id, PoisonMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  if (std::find(settings_.regions.begin(), settings_.regions.end(), region_id) ==
      settings_.regions.end()) {
    return absl::NotFoundError(absl::StrCat("region ", region_id, " is not simulated"));
  }
  const int64_t id = next_poison_id_++;
  poison_[region_id].push_back({id, mode});
  return id;
}

void ContractRoutes::RegisterControl(httplib::Server& server) {
  auto bad = [](httplib::Response& res, const std::string& message) {
    res.status = 400;
    res.set_content(EsiError(message), kJsonType);
  };
  server.Post(
      "/sim/contracts/config", [this, bad](const httplib::Request& req, httplib::Response& res) {
        ContractSimSettings s;
        {
          std::lock_guard<std::mutex> lock(mu_);
          s = settings_;
        }
        auto int_param = [&](const char* name, int64_t lo, int64_t hi, int64_t* out) {
          if (!req.has_param(name)) return true;
          std::optional<int64_t> v = ParseId(req.get_param_value(name));
          if (!v || *v < lo || *v > hi) {
            bad(res, absl::StrCat(name, " must be an integer in [", lo, ", ", hi, "]"));
            return false;
          }
          *out = *v;
          return true;
        };
        int64_t per_region = s.per_region, page_size = s.page_size, cache_s = s.cache_seconds,
                detail_cache_s = s.detail_cache_seconds;
        if (!int_param("per_region", 0, 100000, &per_region) ||
            !int_param("page_size", 1, 10000, &page_size) ||
            !int_param("lifetime_s", 60, 365 * 86400, &s.lifetime_s) ||
            !int_param("cache_s", 0, 86400, &cache_s) ||
            !int_param("detail_cache_s", 0, 86400, &detail_cache_s)) {
          return;
        }
        s.per_region = static_cast<int>(per_region);
        s.page_size = static_cast<int>(page_size);
        s.cache_seconds = static_cast<int>(cache_s);
        s.detail_cache_seconds = static_cast<int>(detail_cache_s);
        if (req.has_param("regions")) {
          s.regions.clear();
          for (absl::string_view part : absl::StrSplit(req.get_param_value("regions"), ',')) {
            std::optional<int64_t> r = ParseId(part);
            if (!r || *r < 10000001 || *r > 10001000) {
              return bad(res, "regions must be region ids (10000001..10001000), comma-separated");
            }
            s.regions.push_back(*r);
          }
        }
        set_settings(s);
        res.set_content(Summary().dump(), kJsonType);
      });
  server.Post(
      "/sim/contracts/poison", [this, bad](const httplib::Request& req, httplib::Response& res) {
        std::optional<int64_t> region = ParseId(req.get_param_value("region_id"));
        const std::string mode = req.get_param_value("mode");
        if (!region) return bad(res, "region_id must be a region id");
        static const std::map<std::string, PoisonMode> kModes = {
            {"malformed", PoisonMode::kMalformed},
            {"db", PoisonMode::kDb},
            {"items_malformed", PoisonMode::kItemsMalformed},
            {"items_truncated", PoisonMode::kItemsTruncated}};
        auto m = kModes.find(mode);
        if (m == kModes.end()) {
          return bad(res, "mode must be malformed, db, items_malformed or items_truncated");
        }
        absl::StatusOr<int64_t> id = AddPoison(*region, m->second);
        if (!id.ok()) {
          res.status = 404;
          res.set_content(EsiError(id.status().message()), kJsonType);
          return;
        }
        LOG(INFO) << "poison contract " << *id << " (" << mode << ") in region " << *region;
        res.set_content(json({{"contract_id", *id}, {"region_id", *region}, {"mode", mode}}).dump(),
                        kJsonType);
      });
  server.Post("/sim/contracts/poison/clear",
              [this](const httplib::Request&, httplib::Response& res) {
                std::lock_guard<std::mutex> lock(mu_);
                poison_.clear();
                res.set_content("{}", kJsonType);
              });
  server.Post("/sim/types/fail", [this, bad](const httplib::Request& req, httplib::Response& res) {
    std::optional<int64_t> type = ParseId(req.get_param_value("type_id"));
    if (!type) return bad(res, "type_id must be a type id");
    int64_t status = 500;
    if (req.has_param("status")) {
      std::optional<int64_t> s = ParseId(req.get_param_value("status"));
      if (!s || (*s != 0 && (*s < 400 || *s > 599))) {
        return bad(res, "status must be 0 (clear) or a 4xx/5xx code");
      }
      status = *s;
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (status == 0) {
      type_failures_.erase(*type);
    } else {
      type_failures_[*type] = static_cast<int>(status);
    }
    res.set_content(json({{"type_id", *type}, {"status", status}}).dump(), kJsonType);
  });
}

json ContractRoutes::Summary() const {
  std::lock_guard<std::mutex> lock(mu_);
  int poisoned = 0;
  for (const auto& [region, list] : poison_) poisoned += static_cast<int>(list.size());
  return {{"contracts",
           {{"regions", settings_.regions},
            {"per_region", settings_.per_region},
            {"page_size", settings_.page_size},
            {"lifetime_s", settings_.lifetime_s},
            {"cache_s", settings_.cache_seconds},
            {"detail_cache_s", settings_.detail_cache_seconds},
            {"poisoned", poisoned},
            {"poison_item_fetches", poison_item_fetches_},
            {"failing_types", type_failures_.size()}}}};
}

}  // namespace sluice::sim
