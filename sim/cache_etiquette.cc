#include "sim/cache_etiquette.h"

namespace sluice::sim {

std::string CacheEtiquette::Key(const std::string& client, const std::string& resource) {
  std::string key;
  key.reserve(client.size() + 1 + resource.size());
  key.append(client).push_back(' ');
  key.append(resource);
  return key;
}

bool CacheEtiquette::RecordRequest(const std::string& client, const std::string& resource,
                                   const std::string& route, TimePoint now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = expires_.find(Key(client, resource));
  if (it == expires_.end() || now >= it->second) return false;
  ++early_;
  auto c = early_by_caller_.find(client);
  if (c != early_by_caller_.end()) {
    ++c->second;
  } else if (early_by_caller_.size() < kMaxViolators) {
    early_by_caller_.emplace(client, 1);
  } else {
    ++early_by_caller_["(other)"];
  }
  ++early_by_route_[route];
  return true;
}

void CacheEtiquette::Announce(const std::string& client, const std::string& resource,
                              TimePoint expires, TimePoint now) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string key = Key(client, resource);
  auto it = expires_.find(key);
  if (it != expires_.end()) {
    it->second = expires;
    return;
  }
  if (expires_.size() >= kMaxEntries) {
    // Whatever has expired no longer constrains anyone.
    for (auto e = expires_.begin(); e != expires_.end();) {
      e = e->second <= now ? expires_.erase(e) : std::next(e);
    }
    if (expires_.size() >= kMaxEntries) {
      ++untracked_;
      return;
    }
  }
  expires_.emplace(std::move(key), expires);
}

void CacheEtiquette::ResetCounters() {
  std::lock_guard<std::mutex> lock(mu_);
  early_ = untracked_ = 0;
  early_by_caller_.clear();
  early_by_route_.clear();
}

nlohmann::json CacheEtiquette::ToJson() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {{"requests_before_expires", early_},
          {"by_caller", early_by_caller_},
          {"by_route", early_by_route_},
          {"tracked", expires_.size()},
          {"untracked", untracked_}};
}

}  // namespace sluice::sim
