#include "agent/throttle/token_ledger.h"

#include <algorithm>

namespace sluice::agent {

TokenLedger::TokenLedger(const Clock* clock, Duration safety_margin)
    : clock_(clock), safety_margin_(safety_margin) {}

void TokenLedger::Owe(int64_t lease_id, int unspent) {
  if (unspent > 0) returns_[lease_id] += unspent;
}

void TokenLedger::RememberRevoked(int64_t lease_id) {
  if (!revoked_ids_.insert(lease_id).second) return;
  revoked_order_.push_back(lease_id);
  if (revoked_order_.size() > kRevokedMemory) {
    revoked_ids_.erase(revoked_order_.front());
    revoked_order_.pop_front();
  }
}

int TokenLedger::AddLease(const Route& route, int64_t lease_id, int granted, TimePoint expires_at,
                          bool arm_before_use) {
  if (granted <= 0) return 0;
  stats_.granted += granted;
  if (revoked_ids_.count(lease_id) > 0) {
    stats_.revoked += granted;
    Owe(lease_id, granted);
    return 0;
  }
  TimePoint usable_until = expires_at - safety_margin_;
  if (usable_until <= clock_->Now()) {
    stats_.expired += granted;
    Owe(lease_id, granted);
    return 0;
  }
  auto& leases = pools_[route];
  auto it = std::find_if(leases.begin(), leases.end(),
                         [&](const Lease& l) { return l.lease_id == lease_id; });
  if (it != leases.end()) {
    // The same lease reported twice (a retried RPC): keep the larger grant.
    if (granted > it->granted) {
      it->remaining += granted - it->granted;
      it->granted = granted;
    }
    return it->remaining;
  }
  Lease lease{lease_id, granted, granted, usable_until};
  lease.arming = arm_before_use;
  leases.push_back(lease);
  route_of_lease_[lease_id] = route;
  return granted;
}

void TokenLedger::DropExpired(const Route& route, std::vector<Lease>* leases, TimePoint now) {
  auto expired = [&](const Lease& l) { return l.usable_until <= now; };
  for (const Lease& l : *leases) {
    if (!expired(l)) continue;
    stats_.expired += l.remaining;
    Owe(l.lease_id, l.remaining);
    route_of_lease_.erase(l.lease_id);
  }
  leases->erase(std::remove_if(leases->begin(), leases->end(), expired), leases->end());
}

std::optional<int64_t> TokenLedger::Take(const Route& route) {
  auto pool = pools_.find(route);
  if (pool == pools_.end()) return std::nullopt;
  auto& leases = pool->second;
  DropExpired(route, &leases, clock_->Now());
  // Spend the lease that would expire first: its tokens are the likeliest
  // to be wasted otherwise.
  auto best = leases.end();
  for (auto it = leases.begin(); it != leases.end(); ++it) {
    if (it->Ready() > 0 && (best == leases.end() || it->usable_until < best->usable_until)) {
      best = it;
    }
  }
  if (best == leases.end()) return std::nullopt;
  int64_t lease_id = best->lease_id;
  ++stats_.taken;
  if (--best->remaining == 0) {
    route_of_lease_.erase(lease_id);
    leases.erase(best);
  }
  return lease_id;
}

TokenLedger::Lease* TokenLedger::Find(int64_t lease_id) {
  auto where = route_of_lease_.find(lease_id);
  if (where == route_of_lease_.end()) return nullptr;
  auto pool = pools_.find(where->second);
  if (pool == pools_.end()) return nullptr;
  for (Lease& l : pool->second) {
    if (l.lease_id == lease_id) return &l;
  }
  return nullptr;
}

std::optional<TokenLedger::ArmOrder> TokenLedger::BeginArming(const Route& route, int chunk) {
  auto pool = pools_.find(route);
  if (pool == pools_.end() || chunk < 1) return std::nullopt;
  DropExpired(route, &pool->second, clock_->Now());
  Lease* best = nullptr;
  for (Lease& l : pool->second) {
    if (l.Armable() > 0 && (best == nullptr || l.usable_until < best->usable_until)) best = &l;
  }
  if (best == nullptr) return std::nullopt;
  const int count = std::min(chunk, best->Armable());
  best->pending += count;
  return ArmOrder{best->lease_id, count};
}

void TokenLedger::Armed(const ArmOrder& order, int64_t armed_total) {
  Lease* l = Find(order.lease_id);
  if (l == nullptr) return;  // expired, revoked or used up meanwhile
  l->pending = std::max(0, l->pending - order.count);
  // Answers of concurrent orders may arrive in any order: the largest total
  // is the coordinator's latest.
  l->armed = std::max<int>(l->armed, static_cast<int>(std::min<int64_t>(armed_total, l->granted)));
}

void TokenLedger::ArmFailed(const ArmOrder& order) {
  auto where = route_of_lease_.find(order.lease_id);
  if (where == route_of_lease_.end()) return;
  auto pool = pools_.find(where->second);
  route_of_lease_.erase(where);
  if (pool == pools_.end()) return;
  auto& leases = pool->second;
  for (auto it = leases.begin(); it != leases.end(); ++it) {
    if (it->lease_id != order.lease_id) continue;
    stats_.arm_failed += it->remaining;
    Owe(it->lease_id, it->remaining);
    leases.erase(it);
    return;
  }
}

int TokenLedger::Arming(const Route& route) const {
  auto pool = pools_.find(route);
  if (pool == pools_.end()) return 0;
  int n = 0;
  for (const Lease& l : pool->second) n += l.pending;
  return n;
}

void TokenLedger::Release(const Route& route, int64_t lease_id) {
  ++stats_.released;
  --stats_.taken;
  auto pool = pools_.find(route);
  if (pool != pools_.end()) {
    DropExpired(route, &pool->second, clock_->Now());
    for (Lease& l : pool->second) {
      if (l.lease_id == lease_id) {
        ++l.remaining;
        return;
      }
    }
  }
  // The lease is gone (used up, expired, revoked): the token still was not
  // spent upstream, so the throttler gets it back.
  Owe(lease_id, 1);
}

std::set<Route> TokenLedger::Revoke(const std::vector<int64_t>& lease_ids) {
  std::set<Route> routes;
  for (int64_t lease_id : lease_ids) {
    RememberRevoked(lease_id);
    auto where = route_of_lease_.find(lease_id);
    if (where == route_of_lease_.end()) continue;
    Route route = where->second;
    route_of_lease_.erase(where);
    auto pool = pools_.find(route);
    if (pool != pools_.end()) {
      auto& leases = pool->second;
      for (auto it = leases.begin(); it != leases.end(); ++it) {
        if (it->lease_id != lease_id) continue;
        stats_.revoked += it->remaining;
        Owe(lease_id, it->remaining);
        leases.erase(it);
        break;
      }
    }
    routes.insert(route);
  }
  return routes;
}

int TokenLedger::Available(const Route& route) {
  auto pool = pools_.find(route);
  if (pool == pools_.end()) return 0;
  DropExpired(route, &pool->second, clock_->Now());
  int n = 0;
  for (const Lease& l : pool->second) n += l.remaining;
  return n;
}

void TokenLedger::DropExpired() {
  TimePoint now = clock_->Now();
  // Pools are per (route, caller): with many characters, empty ones go.
  for (auto it = pools_.begin(); it != pools_.end();) {
    DropExpired(it->first, &it->second, now);
    it = it->second.empty() ? pools_.erase(it) : std::next(it);
  }
}

int TokenLedger::DropAll() {
  int dropped = 0;
  for (auto& [route, leases] : pools_) {
    for (const Lease& l : leases) {
      dropped += l.remaining;
      Owe(l.lease_id, l.remaining);
    }
  }
  pools_.clear();
  route_of_lease_.clear();
  stats_.dropped += dropped;
  return dropped;
}

std::vector<TokenReturnEntry> TokenLedger::TakeReturns() {
  std::vector<TokenReturnEntry> out;
  out.reserve(returns_.size());
  for (const auto& [lease_id, unspent] : returns_) out.push_back({lease_id, unspent});
  returns_.clear();
  return out;
}

void TokenLedger::RestoreReturns(const std::vector<TokenReturnEntry>& returns) {
  for (const auto& r : returns) Owe(r.lease_id, r.unspent);
}

}  // namespace sluice::agent
