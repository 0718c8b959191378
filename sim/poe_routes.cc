#include "sim/poe_routes.h"

#include <absl/strings/match.h>
#include <absl/strings/str_split.h>
#include <nlohmann/json.hpp>

#include <vector>

namespace sluice::sim {
namespace {

using Kind = PoeMatch::Kind;
constexpr int64_t kHour = 3600;
// How far back the simulated exchange history goes when no cursor is given.
constexpr int64_t kExchangeHistoryHours = 24 * 7;

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

}  // namespace

PoeRoutes::PoeRoutes(const Clock* clock) : clock_(clock) {}

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
      if (m.id.empty()) return ExchangePage(m.realm, now / kHour * kHour - kExchangeHistoryHours * kHour);
      std::optional<int64_t> id = ParseId(m.id);
      if (!id) return Error(400, 2, "Invalid query: id must be a unix timestamp");
      return ExchangePage(m.realm, *id / kHour * kHour);
    }
    case Kind::kUnknown:
      break;
  }
  return Error(404, 1, "Resource not found");
}

Reply PoeRoutes::StashPage(const std::string& realm, const std::string& change_id) const {
  // An empty page means "end of stream": the cursor does not move, and a
  // correct client keeps polling the same id.
  nlohmann::json body = {{"next_change_id", change_id.empty() ? "0-0-0-0-0" : change_id},
                         {"stashes", nlohmann::json::array()}};
  return Reply{200, body.dump(), false, 0, {}};
}

Reply PoeRoutes::ExchangePage(const std::string& realm, int64_t hour) const {
  int64_t now = static_cast<int64_t>(ToUnixSeconds(clock_->Now()));
  // An hour is published once it has ended; until then the cursor stays put.
  int64_t next = hour + kHour <= now ? hour + kHour : hour;
  nlohmann::json body = {{"next_change_id", next}, {"markets", nlohmann::json::array()}};
  return Reply{200, body.dump(), false, 0, {}};
}

}  // namespace sluice::sim
