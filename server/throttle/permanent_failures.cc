#include "server/throttle/permanent_failures.h"

#include <algorithm>
#include <unordered_set>

namespace sluice::throttle {

bool PermanentFailures::Contains(const std::vector<int>& list, int status) const {
  return std::find(list.begin(), list.end(), status) != list.end();
}

bool PermanentFailures::Record(const std::string& key, int status, TimePoint now) {
  if (key.empty()) return false;
  if (status >= 200 && status < 400) {
    entries_.erase(key);  // its order_ slot goes stale and is skipped later
    return false;
  }
  if (status < 400 || status >= 500 || Contains(options_.transient_statuses, status)) {
    return IsPermanent(key, now);
  }
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    MakeRoom(now);
    it = entries_.emplace(key, Entry{now, now, 0, false}).first;
    order_.push_back(key);
  }
  Entry& e = it->second;
  if (!e.permanent && now - e.first > options_.window) {
    e.first = now;
    e.failures = 0;
  }
  e.last = now;
  ++e.failures;
  if (Contains(options_.immediate_statuses, status) || e.failures >= options_.threshold) {
    e.permanent = true;
  }
  return e.permanent;
}

bool PermanentFailures::IsPermanent(const std::string& key, TimePoint now) const {
  auto it = entries_.find(key);
  return it != entries_.end() && it->second.permanent && now - it->second.last <= options_.window;
}

void PermanentFailures::MakeRoom(TimePoint now) {
  // Compact first: drop entries past their window and order_ slots of keys
  // erased by a success, so neither map nor deque grows with churn.
  if (entries_.size() >= options_.max_keys || order_.size() > 2 * entries_.size() + 1024) {
    std::deque<std::string> live;
    std::unordered_set<std::string> seen;
    for (auto& k : order_) {
      auto it = entries_.find(k);
      if (it == entries_.end() || !seen.insert(k).second) continue;
      if (now - it->second.last > options_.window) {
        entries_.erase(it);
        continue;
      }
      live.push_back(std::move(k));
    }
    order_.swap(live);
  }
  // Still full: evict oldest first.
  while (!order_.empty() && entries_.size() >= options_.max_keys) {
    entries_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace sluice::throttle
