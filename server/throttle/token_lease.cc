#include "server/throttle/token_lease.h"

namespace sluice::throttle {

bool Lease::Uses(const Budget* budget) const {
  for (const LeaseUse& use : uses) {
    if (use.budget == budget) return true;
  }
  return false;
}

Lease* LeaseTable::Create(Lease lease) {
  lease.id = next_id_++;
  lapses_.emplace(lease.lapse_at, lease.id);
  auto [it, inserted] = leases_.emplace(lease.id, std::move(lease));
  return &it->second;
}

Lease* LeaseTable::Find(int64_t id) {
  auto it = leases_.find(id);
  return it == leases_.end() ? nullptr : &it->second;
}

void LeaseTable::Erase(int64_t id) { leases_.erase(id); }

std::vector<int64_t> LeaseTable::TakeLapsed(TimePoint now) {
  std::vector<int64_t> out;
  while (!lapses_.empty() && lapses_.top().first <= now) {
    int64_t id = lapses_.top().second;
    lapses_.pop();
    // Closed leases leave stale heap entries behind; skip them.
    if (leases_.count(id) != 0) out.push_back(id);
  }
  return out;
}

}  // namespace sluice::throttle
