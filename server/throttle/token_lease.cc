#include "server/throttle/token_lease.h"

#include <algorithm>

namespace sluice::throttle {

bool Lease::Uses(const Budget* budget) const {
  for (const LeaseUse& use : uses) {
    if (use.budget == budget) return true;
  }
  return false;
}

int64_t LeaseTable::FirstId(int64_t leader_epoch, TimePoint now) {
  // 2^22 epochs (four million takeovers) of 2^40 ids (a trillion leases) each.
  constexpr int64_t kEpochBit = int64_t{1} << 62;
  constexpr int kCountBits = 40;
  constexpr int64_t kMaxEpoch = (int64_t{1} << (62 - kCountBits)) - 1;
  if (leader_epoch > 0) {
    return kEpochBit | (std::min(leader_epoch, kMaxEpoch) << kCountBits) | 1;
  }
  // About 2^53 today: far below bit 62 for centuries.
  int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  return std::max<int64_t>(1, ms) << 12;
}

std::string LeaseTable::RouteIndexKey(Upstream upstream, const std::string& route) {
  std::string key(UpstreamName(upstream));
  key.push_back('\x1f');
  key.append(route);
  return key;
}

Lease* LeaseTable::Create(Lease lease) {
  lease.id = next_id_++;
  if (lease.arming) expiries_.emplace(lease.expires_at, lease.id);
  lapses_.emplace(lease.lapse_at, lease.id);
  by_route_[RouteIndexKey(lease.key.upstream, lease.key.route)].insert(lease.id);
  auto [it, inserted] = leases_.emplace(lease.id, std::move(lease));
  return &it->second;
}

Lease* LeaseTable::Find(int64_t id) {
  auto it = leases_.find(id);
  return it == leases_.end() ? nullptr : &it->second;
}

void LeaseTable::Erase(int64_t id) {
  auto it = leases_.find(id);
  if (it == leases_.end()) return;
  auto r = by_route_.find(RouteIndexKey(it->second.key.upstream, it->second.key.route));
  if (r != by_route_.end()) {
    r->second.erase(id);
    if (r->second.empty()) by_route_.erase(r);
  }
  leases_.erase(it);
}

std::vector<int64_t> LeaseTable::OfRoute(Upstream upstream, const std::string& route) const {
  auto r = by_route_.find(RouteIndexKey(upstream, route));
  if (r == by_route_.end()) return {};
  return std::vector<int64_t>(r->second.begin(), r->second.end());
}

std::vector<int64_t> LeaseTable::TakeDue(DueQueue* queue, TimePoint now,
                                         const std::unordered_map<int64_t, Lease>& open) {
  std::vector<int64_t> out;
  while (!queue->empty() && queue->top().first <= now) {
    int64_t id = queue->top().second;
    queue->pop();
    // Closed leases leave stale heap entries behind; skip them.
    if (open.count(id) != 0) out.push_back(id);
  }
  return out;
}

std::vector<int64_t> LeaseTable::TakeExpired(TimePoint now) {
  return TakeDue(&expiries_, now, leases_);
}

std::vector<int64_t> LeaseTable::TakeLapsed(TimePoint now) {
  return TakeDue(&lapses_, now, leases_);
}

}  // namespace sluice::throttle
