#include "sim/esi_meter.h"

#include <absl/strings/match.h>
#include <absl/strings/str_cat.h>

#include <algorithm>
#include <tuple>
#include <vector>

namespace sluice::sim {
namespace {

constexpr char kGlobalKey[] = "global";
constexpr char kCharPrefix[] = "char:";
constexpr char kIpPrefix[] = "ip:";

}  // namespace

EsiMeter::EsiMeter(const SimConfig& config, const Clock* clock)
    : metering_(config.metering),
      error_budget_(config.esi_error_limit),
      error_window_seconds_(config.esi_error_window_seconds),
      errors_([budget = config.esi_error_limit, window = config.esi_error_window_seconds, clock] {
        return std::make_unique<ErrorLimiter>(budget, window, clock);
      }) {
  for (const EsiGroupLimit& g : config.esi_groups) {
    limits_[g.name] = g;
    groups_[g.name] =
        std::make_unique<LimiterTable<GroupLimiter>>([g, costs = config.esi_costs, clock] {
          return std::make_unique<GroupLimiter>(g, costs, clock);
        });
  }
}

std::string EsiMeter::CharacterCaller(int64_t character_id) {
  return absl::StrCat(kCharPrefix, character_id);
}

std::string EsiMeter::AddressCaller(const std::string& remote_addr) {
  return absl::StrCat(kIpPrefix, remote_addr);
}

std::string EsiMeter::KeyOf(const std::string& caller) const {
  return metering_ == Metering::kGlobal ? kGlobalKey : caller;
}

std::shared_ptr<GroupLimiter> EsiMeter::Group(const std::string& group, const std::string& caller) {
  auto it = groups_.find(group);
  if (it == groups_.end()) return nullptr;
  return it->second->Get(KeyOf(caller));
}

std::shared_ptr<ErrorLimiter> EsiMeter::Errors(const std::string& address) {
  return errors_.Get(KeyOf(address));
}

nlohmann::json EsiMeter::GroupsJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [name, table] : groups_) {
    struct Row {
      std::string caller;
      GroupLimiter::Snapshot s;
    };
    std::vector<Row> rows;
    for (auto& [caller, limiter] : table->Snapshot()) {
      GroupLimiter::Snapshot s = limiter->Peek();
      if (s.used > 0) rows.push_back(Row{caller, s});
    }
    const size_t shown = std::min(kMostUsed, rows.size());
    std::partial_sort(rows.begin(), rows.begin() + shown, rows.end(),
                      [](const Row& a, const Row& b) {
                        return std::tie(b.s.used, a.caller) < std::tie(a.s.used, b.caller);
                      });
    nlohmann::json most_used = nlohmann::json::array();
    for (size_t i = 0; i < shown; ++i) {
      most_used.push_back({{"caller", rows[i].caller},
                           {"remaining", rows[i].s.remaining},
                           {"used", rows[i].s.used}});
    }
    out[name] = {{"limit", FormatEsiLimit(limits_.at(name))},
                 {"callers", rows.size()},
                 {"most_used", most_used}};
  }
  return out;
}

nlohmann::json EsiMeter::ErrorLimitJson() const {
  struct Row {
    std::string address;
    ErrorLimiter::State s;
  };
  std::vector<Row> rows;
  size_t limited = 0;
  for (auto& [address, limiter] : errors_.Snapshot()) {
    if (limiter->Idle()) continue;
    ErrorLimiter::State s = limiter->Check();
    if (s.limited) ++limited;
    rows.push_back(Row{address, s});
  }
  const size_t shown = std::min(kMostUsed, rows.size());
  std::partial_sort(rows.begin(), rows.begin() + shown, rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.s.remain, a.address) < std::tie(b.s.remain, b.address);
  });
  nlohmann::json least = nlohmann::json::array();
  for (size_t i = 0; i < shown; ++i) {
    least.push_back({{"address", rows[i].address},
                     {"remain", rows[i].s.remain},
                     {"reset_seconds", rows[i].s.reset_seconds},
                     {"limited", rows[i].s.limited}});
  }
  return {{"budget", error_budget_},
          {"window_seconds", error_window_seconds_},
          {"addresses", rows.size()},
          {"limited_addresses", limited},
          {"least_remaining", least}};
}

absl::StatusOr<nlohmann::json> EsiMeter::BucketsJson(const std::string& caller) const {
  const bool is_address = absl::StartsWith(caller, kIpPrefix);
  if (!is_address && !absl::StartsWith(caller, kCharPrefix)) {
    return absl::InvalidArgumentError("caller must be char:<character_id> or ip:<address>");
  }
  const std::string key = KeyOf(caller);
  nlohmann::json groups = nlohmann::json::object();
  for (const auto& [name, table] : groups_) {
    const EsiGroupLimit& limit = limits_.at(name);
    GroupLimiter::Snapshot s{limit.tokens, 0};  // a bucket never used is full
    if (std::shared_ptr<GroupLimiter> g = table->Find(key)) s = g->Peek();
    groups[name] = {{"limit", FormatEsiLimit(limit)}, {"remaining", s.remaining}, {"used", s.used}};
  }
  nlohmann::json out = {
      {"caller", caller}, {"metering", MeteringName(metering_)}, {"groups", groups}};
  if (is_address) {
    nlohmann::json e = {{"remain", error_budget_},
                        {"reset_seconds", error_window_seconds_},
                        {"limited", false},
                        {"budget", error_budget_},
                        {"window_seconds", error_window_seconds_}};
    if (std::shared_ptr<ErrorLimiter> limiter = errors_.Find(key)) e = limiter->ToJson();
    out["error_limit"] = e;
  }
  return out;
}

void EsiMeter::Reset() {
  errors_.Clear();
  for (auto& [name, table] : groups_) table->Clear();
}

size_t EsiMeter::size() const {
  size_t n = errors_.size();
  for (const auto& [name, table] : groups_) n += table->size();
  return n;
}

}  // namespace sluice::sim
