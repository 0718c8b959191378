// A Lease is a grant of up to N calls on one route: the right to make each
// call between usable_from and expires_at, unless revoked earlier. While it
// is open, every budget of the route holds the lease's outstanding calls as
// in-flight reservations (LeaseUse::cost.reserve units each).
//
// A lease's calls end in exactly one of three ways:
//   observed  an upstream response for it was reported (settled at its real cost);
//   returned  the holder gave it back unspent (released; or, if the lease was
//             revoked, charged as spent: the holder may have raced the revocation);
//   lapsed    neither happened by lapse_at (= expires_at + the longest a call may
//             take + report grace): charged as spent at its worst cost, answered
//             at expires_at + max request duration, the latest it could have been.
//
// LeaseTable owns leases by id, orders their lapse times and indexes them by
// route (upstream + path template), so learning a route's group touches only
// that route's leases.
//
// Ownership: LeaseTable is owned by the Throttler; Lease::uses point at
// Budgets the Throttler owns (a budget is never dropped while a lease uses
// it). Thread-safety: none; guarded by the Throttler's mutex.
#ifndef SLUICE_SERVER_THROTTLE_TOKEN_LEASE_H_
#define SLUICE_SERVER_THROTTLE_TOKEN_LEASE_H_

#include <cstdint>
#include <queue>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "server/throttle/budget.h"
#include "server/throttle/call_key.h"

namespace sluice::throttle {

struct LeaseUse {
  Budget* budget = nullptr;
  CallCost cost;
};

struct Lease {
  int64_t id = 0;
  std::string holder;  // agent id or Acquire caller
  CallKey key;
  std::vector<LeaseUse> uses;
  int64_t granted = 0;
  int64_t observed = 0;
  int64_t returned = 0;
  bool revoked = false;
  TimePoint granted_at;
  TimePoint usable_from;  // Acquire may grant for a later time
  TimePoint expires_at;
  TimePoint lapse_at;

  int64_t outstanding() const { return granted - observed - returned; }
  bool Uses(const Budget* budget) const;
};

class LeaseTable {
 public:
  // Ids start at first_id and increase; pick first_id so ids never repeat
  // across restarts (the Throttler derives it from the start time).
  explicit LeaseTable(int64_t first_id) : next_id_(first_id) {}
  // The first id for a table started at `now`: the millisecond start time in
  // the high bits, so ids of a restarted coordinator never collide with
  // leases agents may still hold from the previous one.
  static int64_t FirstIdAt(TimePoint now);

  Lease* Create(Lease lease);  // assigns lease.id
  Lease* Find(int64_t id);
  void Erase(int64_t id);
  // Ids of the open leases of one route (any caller, any egress).
  std::vector<int64_t> OfRoute(Upstream upstream, const std::string& route) const;
  // Ids of open leases whose lapse_at <= now, earliest first.
  std::vector<int64_t> TakeLapsed(TimePoint now);
  size_t size() const { return leases_.size(); }

  template <typename F>
  void ForEach(F&& f) {
    for (auto& [id, lease] : leases_) f(lease);
  }

 private:
  using Due = std::pair<TimePoint, int64_t>;
  static std::string RouteIndexKey(Upstream upstream, const std::string& route);

  int64_t next_id_;
  std::unordered_map<int64_t, Lease> leases_;
  std::unordered_map<std::string, std::unordered_set<int64_t>> by_route_;
  std::priority_queue<Due, std::vector<Due>, std::greater<Due>> lapses_;
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_TOKEN_LEASE_H_
