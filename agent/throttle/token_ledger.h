// TokenLedger is the bookkeeping behind CoordinatorRateGate: per-route pools
// of leased rate tokens, and the unspent counts owed back to the throttler.
//
// Rules it enforces:
//   * a token is spendable only while its lease is neither expired (expiry
//     minus a safety margin, to absorb clock skew and the time between
//     "taken" and "request on the wire") nor revoked;
//   * tokens of a lease dropped for any reason (expired, revoked, shutdown)
//     are counted as unspent and handed back through TakeReturns();
//   * a revocation may overtake the grant it refers to (two streams), so
//     recently revoked ids are remembered and such a grant is dropped on
//     arrival;
//   * a lease granted with arm_before_use hands out only armed tokens: the
//     coordinator has acknowledged (ArmTokens) as many of its calls as were
//     ever taken from it. The owner asks BeginArming() for what to arm,
//     makes the call, and reports Armed() or ArmFailed(); a failed arm drops
//     the lease like an expired one (its tokens are owed back, none is
//     used).
//
// Pure logic with an injected Clock; no I/O, no threads.
// Thread-safety: none; the owner serialises access.
#ifndef SLUICE_AGENT_THROTTLE_TOKEN_LEDGER_H_
#define SLUICE_AGENT_THROTTLE_TOKEN_LEDGER_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_set>
#include <vector>

#include "agent/throttle/route.h"
#include "common/clock.h"

namespace sluice::agent {

struct TokenReturnEntry {
  int64_t lease_id = 0;
  int32_t unspent = 0;
  bool operator==(const TokenReturnEntry& o) const {
    return lease_id == o.lease_id && unspent == o.unspent;
  }
};

class TokenLedger {
 public:
  struct Stats {
    int64_t granted = 0;     // tokens received in leases
    int64_t taken = 0;       // tokens spent on calls
    int64_t expired = 0;     // unspent when their lease expired
    int64_t revoked = 0;     // unspent when their lease was revoked
    int64_t dropped = 0;     // unspent when dropped wholesale (stream loss, shutdown)
    int64_t released = 0;    // taken, then given back unused
    int64_t arm_failed = 0;  // unspent when arming their lease failed
  };

  // Tokens of one lease to arm with one ArmTokens call.
  struct ArmOrder {
    int64_t lease_id = 0;
    int count = 0;
  };

  // Remembers this many revoked lease ids for late-arriving grants.
  static constexpr size_t kRevokedMemory = 4096;

  TokenLedger(const Clock* clock, Duration safety_margin);

  // Records a grant. Returns how many tokens became spendable (0 if the lease
  // was already revoked or is already past its usable time; those go
  // straight to the returns). With arm_before_use, tokens must be armed
  // before Take hands them out.
  int AddLease(const Route& route, int64_t lease_id, int granted, TimePoint expires_at,
               bool arm_before_use = false);

  // Spends one token for `route` from the lease that expires first among
  // those with a token ready (armed, for arming leases); the lease id, or
  // nullopt if the route has no such token.
  std::optional<int64_t> Take(const Route& route);

  // When Take found nothing: up to `chunk` tokens of the route's arming lease
  // that expires first, counted as being armed until Armed/ArmFailed; nullopt
  // if every unarmed token is already being armed.
  std::optional<ArmOrder> BeginArming(const Route& route, int chunk);
  // The coordinator armed the order; `armed_total` is its count for the
  // whole lease (it covers concurrent orders too).
  void Armed(const ArmOrder& order, int64_t armed_total);
  // The coordinator refused the order or could not be asked: the lease is
  // dropped, its unspent tokens owed back.
  void ArmFailed(const ArmOrder& order);
  // Tokens of `route` being armed right now.
  int Arming(const Route& route) const;

  // A token taken but not used: back into its lease if still spendable,
  // otherwise owed to the throttler.
  void Release(const Route& route, int64_t lease_id);

  // Drops the named leases. Returns the routes that held any of them.
  std::set<Route> Revoke(const std::vector<int64_t>& lease_ids);

  // Spendable tokens for `route` now (expired leases are dropped first).
  int Available(const Route& route);
  // Drops every expired lease on every route.
  void DropExpired();
  // Drops every lease; returns the number of tokens dropped.
  int DropAll();

  // The unspent counts owed, aggregated per lease; clears them.
  std::vector<TokenReturnEntry> TakeReturns();
  // Puts returns back after a failed send.
  void RestoreReturns(const std::vector<TokenReturnEntry>& returns);
  bool HasReturns() const { return !returns_.empty(); }

  const Stats& stats() const { return stats_; }

 private:
  struct Lease {
    int64_t lease_id;
    int granted;
    int remaining;  // not taken (taken tokens given back unused count again)
    TimePoint usable_until;
    bool arming = false;
    int armed = 0;    // arming leases: acknowledged by the coordinator
    int pending = 0;  // arming leases: being armed now

    // Armed tokens not taken: every token ever out was armed, so the first
    // granted - remaining armed ones are accounted for.
    int Ready() const {
      return arming ? std::clamp(armed - (granted - remaining), 0, remaining) : remaining;
    }
    int Armable() const { return arming ? std::max(0, remaining - Ready() - pending) : 0; }
  };

  Lease* Find(int64_t lease_id);
  void DropExpired(const Route& route, std::vector<Lease>* leases, TimePoint now);
  void Owe(int64_t lease_id, int unspent);
  void RememberRevoked(int64_t lease_id);

  const Clock* const clock_;
  const Duration safety_margin_;
  std::map<Route, std::vector<Lease>> pools_;
  std::map<int64_t, Route> route_of_lease_;
  std::map<int64_t, int> returns_;
  std::unordered_set<int64_t> revoked_ids_;
  std::deque<int64_t> revoked_order_;
  Stats stats_;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_THROTTLE_TOKEN_LEDGER_H_
