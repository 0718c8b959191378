#include "server/queue/due_schedule.h"

#include <algorithm>

namespace sluice {

bool DueSchedule::MayBeDue(const std::vector<std::string>& kinds, TimePoint now) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& name : kinds) {
    auto it = kinds_.find(name);
    if (it == kinds_.end() || !it->second.next || *it->second.next <= now) return true;
  }
  return false;
}

void DueSchedule::Lower(const std::string& name, TimePoint at) {
  std::lock_guard<std::mutex> lock(mu_);
  Kind& k = kinds_[name];
  if (k.next) k.next = std::min(*k.next, at);
  if (k.checking) k.lowered = std::min(k.lowered.value_or(at), at);
}

void DueSchedule::BeginCheck(const std::vector<std::string>& kinds) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& name : kinds) {
    Kind& k = kinds_[name];
    k.checking = true;
    k.lowered.reset();
  }
}

void DueSchedule::FinishCheck(const std::map<std::string, std::optional<TimePoint>>& next) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, at] : next) {
    Kind& k = kinds_[name];
    TimePoint n = at.value_or(TimePoint::max());
    if (k.lowered) n = std::min(n, *k.lowered);
    k.next = n;
    k.checking = false;
    k.lowered.reset();
  }
}

void DueSchedule::FailCheck(const std::vector<std::string>& kinds) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& name : kinds) {
    Kind& k = kinds_[name];
    k.next.reset();
    k.checking = false;
    k.lowered.reset();
  }
}

void DueSchedule::Forget() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, k] : kinds_) {
    k.next.reset();
    // A check running now may have read the table before those writes.
    if (k.checking) k.lowered = TimePoint::min();
  }
}

}  // namespace sluice
