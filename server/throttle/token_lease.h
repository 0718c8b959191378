// A Lease is a grant of up to N calls on one route: the right to make each
// call between usable_from and expires_at, unless revoked earlier. While it
// is open, every budget of the route holds the lease's outstanding calls as
// in-flight reservations (LeaseUse::cost.reserve units each).
//
// A lease's calls end in exactly one of four ways:
//   observed  an upstream response for it was reported (settled at its real cost);
//   returned  the holder gave it back unspent (released; or, if the lease was
//             revoked, charged as spent: the holder may have raced the revocation);
//   unarmed   (arming leases only) it was never armed by expires_at, so it cannot
//             have been spent: released at expiry;
//   lapsed    none of these by lapse_at (= expires_at + the longest a call may
//             take + report grace): charged as spent at its worst cost, answered
//             at expires_at + max request duration, the latest it could have been.
//
// Arming (LeaseTokens with arm_before_use) is a write-ahead record of calls
// about to start: the holder sends no call on a token before ArmTokens has
// acknowledged it, and arming stops at expires_at. So at expiry at most
// armed - observed calls can have been made without being reported; only
// those keep their reservations and can lapse. A holder that dies with
// leased tokens it never armed costs nothing once its leases expire.
//
// LeaseTable owns leases by id, orders their expiry (arming leases) and lapse
// times (O(log n) each) and indexes them by route (upstream + path template), so learning a route's
// group touches only that route's leases.
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
  // Arming leases: the calls armed so far (<= granted), and at expiry the
  // calls released as never armed. A return after expiry first accounts for
  // those (the holder cannot have spent them): unarmed_returned of them are.
  bool arming = false;
  int64_t armed = 0;
  int64_t unarmed_released = 0;
  int64_t unarmed_returned = 0;
  TimePoint granted_at;
  // Order of the grant among all grants: whether a budget's latest row was
  // taken before it (GrantAllowance::Refund).
  uint64_t grant_seq = 0;
  TimePoint usable_from;  // Acquire may grant for a later time
  TimePoint expires_at;
  TimePoint lapse_at;

  // Calls still holding reservations in the route's budgets.
  int64_t outstanding() const { return granted - observed - returned - unarmed_released; }
  bool Uses(const Budget* budget) const;
};

class LeaseTable {
 public:
  // Ids start at first_id and increase; pick first_id so ids never repeat
  // across coordinators (FirstId).
  explicit LeaseTable(int64_t first_id) : next_id_(first_id) {}
  // The first id for a table started at `now` by the leader of
  // `leader_epoch`. Agents may still hold, arm, report and hand back leases
  // of the coordinators before this one, so its ids must be new to them.
  // - A leader (epoch > 0): bit 62 set, the epoch in bits 40-61, a count
  //   below. The epoch is taken in the database before the leader serves
  //   (server/leader/leader_elector.h), so each leader's ids lie above every
  //   earlier leader's whatever the hosts' clocks say (a standby whose clock
  //   is behind the old leader's started inside its range before).
  // - Without an epoch (a coordinator outside leader election, a test): the
  //   millisecond start time in the bits below 62, so a restarted
  //   coordinator's ids lie above the previous one's unless its clock went
  //   back.
  static int64_t FirstId(int64_t leader_epoch, TimePoint now);

  Lease* Create(Lease lease);  // assigns lease.id
  Lease* Find(int64_t id);
  void Erase(int64_t id);
  // Ids of the open leases of one route (any caller, any egress).
  std::vector<int64_t> OfRoute(Upstream upstream, const std::string& route) const;
  // Ids of open arming leases whose expires_at <= now, earliest first; each
  // id is returned once.
  std::vector<int64_t> TakeExpired(TimePoint now);
  // Ids of open leases whose lapse_at <= now, earliest first.
  std::vector<int64_t> TakeLapsed(TimePoint now);
  size_t size() const { return leases_.size(); }

  template <typename F>
  void ForEach(F&& f) {
    for (auto& [id, lease] : leases_) f(lease);
  }

 private:
  using Due = std::pair<TimePoint, int64_t>;
  using DueQueue = std::priority_queue<Due, std::vector<Due>, std::greater<Due>>;
  static std::string RouteIndexKey(Upstream upstream, const std::string& route);
  // Pops the entries due by `now`; those of closed leases are dropped.
  static std::vector<int64_t> TakeDue(DueQueue* queue, TimePoint now,
                                      const std::unordered_map<int64_t, Lease>& open);

  int64_t next_id_;
  std::unordered_map<int64_t, Lease> leases_;
  std::unordered_map<std::string, std::unordered_set<int64_t>> by_route_;
  DueQueue expiries_;  // arming leases only
  DueQueue lapses_;
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_TOKEN_LEASE_H_
