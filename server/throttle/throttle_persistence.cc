// The Throttler's persistence: full snapshots, deltas of what changed, and
// restoring either (throttle_state.h has the formats, state_persister.h the
// writer). Kept apart from the decisions in throttler.cc.
#include <glog/logging.h>

#include <algorithm>
#include <cmath>
#include <deque>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/rfc3339.h"
#include "server/throttle/throttler.h"

namespace sluice::throttle {
namespace {

// Persisted times are unix seconds with microsecond resolution. Rounding up
// on the way out means a restored end (restriction, return of a unit) is
// never earlier than the original; a double holds whole microseconds of
// this era exactly enough to round-trip.
double PersistTime(TimePoint t) {
  auto us = std::chrono::ceil<std::chrono::microseconds>(t.time_since_epoch()).count();
  return static_cast<double>(us) / 1e6;
}
TimePoint RestoreTime(double unix_seconds) {
  return TimePoint(std::chrono::duration_cast<Duration>(
      std::chrono::microseconds(std::llround(unix_seconds * 1e6))));
}
Duration FromSeconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}
double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

BudgetState Throttler::StateLocked(const Budget& b, TimePoint now) const {
  BudgetState st;
  st.name = b.name();
  st.family = b.family()->name;
  st.scope = b.scope();
  st.written_at = PersistTime(now);
  st.kind = std::string(BudgetKindName(b.kind()));
  st.learned = b.learned();
  st.observed = b.observed();
  st.limit = b.limit();
  st.period_seconds = Seconds(b.period());
  st.penalty_seconds = Seconds(b.penalty());
  if (const FloatingWindow* w = b.window()) {
    for (const FloatingWindow::Bucket& bucket : w->ledger()) {
      st.ledger.push_back(LedgerBucketState{PersistTime(bucket.first_resp),
                                            PersistTime(bucket.resp_hi),
                                            PersistTime(bucket.sent_lo), bucket.units});
    }
    for (const FloatingWindow::Step& step : w->phantom()) {
      st.phantom.push_back(PhantomStepState{PersistTime(step.until), step.amount});
    }
    for (const FloatingWindow::Step& step : w->external_phantom()) {
      st.external_phantom.push_back(PhantomStepState{PersistTime(step.until), step.amount});
    }
  }
  if (const ErrorWindow* e = b.errors()) {
    st.remain = e->remain();
    if (e->window_end()) st.window_end = PersistTime(*e->window_end());
    st.probing = e->probing();
    for (const SpendTiming& t : e->recent_errors()) {
      st.recent_errors.push_back(ErrorTimingState{PersistTime(t.sent_lo), PersistTime(t.resp_hi)});
    }
    if (std::optional<int64_t> held = e->external_remain(now)) {
      st.external_remain = *held;
      st.external_until = PersistTime(e->external_until());
    }
    if (std::optional<ErrorWindow::Charge> charge = e->charge(now)) {
      // A takeover charge not settled yet is written as the errors it
      // stands for (as rows have always held it): a coordinator restoring
      // this row waits it out, since its own confirmations cannot speak
      // for the calls of the leader before.
      st.remain = std::max<int64_t>(0, st.remain - charge->count);
      for (int64_t i = 0; i < charge->count; ++i) {
        st.recent_errors.push_back(ErrorTimingState{PersistTime(charge->timing.sent_lo),
                                                    PersistTime(charge->timing.resp_hi)});
      }
      if (!st.window_end) {
        st.window_end = PersistTime(charge->timing.resp_hi + e->window() + std::chrono::seconds(1));
      }
    }
  }
  st.in_flight_units = b.in_flight_units();
  st.in_flight_calls = b.in_flight_calls();
  // Reservations still open may be answered as late as the latest lease on
  // the budget allows (tracked at grant time: no walk over the leases).
  st.in_flight_resp_hi = PersistTime(b.in_flight_calls() > 0 ? std::max(b.latest_answer(), now)
                                                             : now + options_.lease_ttl +
                                                                   options_.max_request_duration);
  st.restricted_until = PersistTime(b.restriction().until());
  st.restriction_level = b.restriction().level();
  st.restriction_reason = b.restriction().reason();
  st.restricted_by = b.restriction().by();
  st.restriction_capped = b.restriction().capped();
  st.restriction_cleared_by = b.restriction().cleared_by();
  if (!st.restriction_cleared_by.empty()) {
    st.restriction_cleared_at = PersistTime(b.restriction().cleared_at());
  }
  if (!b.restriction().tightened_by().empty()) {
    st.tightened_by = b.restriction().tightened_by();
    st.tightened_until = PersistTime(b.restriction().tightened_until());
  }
  st.granted = b.counters().granted;
  st.denied = b.counters().denied;
  st.waits = b.counters().waits;
  st.restrictions = b.counters().restrictions;
  return st;
}

RouteMapState Throttler::MapStateLocked() const {
  RouteMapState m;
  for (const auto& [route, group] : route_map_.esi_routes()) m.esi_routes.push_back({route, group});
  for (const auto& [group, limit] : route_map_.esi_groups()) {
    m.esi_groups.push_back(EsiGroupState{group, limit.limit, Seconds(limit.period)});
  }
  for (const auto& [route, policy] : route_map_.poe_routes())
    m.poe_routes.push_back({route, policy});
  for (const auto& [policy, rules] : route_map_.poe_policies()) {
    PoePolicyState ps;
    ps.name = policy;
    for (const PoeRuleShape& rule : rules) {
      PoeRuleShapeState rs;
      rs.name = rule.name;
      for (const PoeTierShape& tier : rule.tiers) {
        rs.tiers.push_back(
            PoeTierShapeState{tier.limit.limit, Seconds(tier.limit.period), Seconds(tier.penalty)});
      }
      ps.rules.push_back(std::move(rs));
    }
    m.poe_policies.push_back(std::move(ps));
  }
  for (const auto& [name, family] : families_) {
    m.families.push_back(FamilyState{name, std::string(BudgetKindName(family.kind)),
                                     family.counters.granted, family.counters.denied,
                                     family.counters.waits, family.counters.restrictions,
                                     Seconds(family.longest_announced)});
  }
  std::sort(m.families.begin(), m.families.end(),
            [](const FamilyState& a, const FamilyState& b) { return a.name < b.name; });
  return m;
}

ThrottleSnapshot Throttler::Snapshot(bool clean_shutdown) {
  ThrottleSnapshot s;
  s.clean_shutdown = clean_shutdown;
  // In chunks (kSnapshotChunk rows per hold of the lock), by name, so the
  // rows come out sorted. Each row carries its own written_at; the map and
  // the snapshot's time are those of the last chunk. Rows go into a deque
  // under the lock (a growing vector would move every row so far there).
  std::deque<BudgetState> rows;
  WalkBudgets(
      kSnapshotChunk, [&](Budget* b, TimePoint now) { rows.push_back(StateLocked(*b, now)); },
      [&](TimePoint now) {
        s.written_at = PersistTime(now);
        s.map = MapStateLocked();
      });
  s.budgets.reserve(rows.size());
  for (BudgetState& row : rows) s.budgets.push_back(std::move(row));
  return s;
}

ThrottleDelta Throttler::TakeDelta(size_t max_changes) {
  // Called again and again by the persister while changes are left: decisions
  // waiting go first.
  mu_.LetWaitersIn();
  std::lock_guard<DecisionMutex> lock(mu_);
  HoldTimer hold(this);
  const TimePoint now = clock_->Now();
  // Leases lapsed by now are charged in the rows taken now: a takeover that
  // settles its error-limit charge early relies on every call answered
  // TakeoverAnswerTime() before a row being in it (throttle_takeover.cc).
  ProcessDueLocked(now);
  ThrottleDelta d;
  d.written_at = PersistTime(now);
  // From the back: each name taken costs O(1) whatever the list's length.
  size_t steps = 0;
  while (!dirty_names_.empty() && steps < max_changes) {
    const std::string name = std::move(dirty_names_.back());
    dirty_names_.pop_back();
    ++steps;
    Budget* b = FindBudgetLocked(name);
    if (b == nullptr || !b->dirty) continue;  // dropped since, or listed twice
    d.budgets.push_back(StateLocked(*b, now));
    if (AllowanceAppliesLocked(*b)) {
      BudgetState& st = d.budgets.back();
      const int64_t allowance = SizeAllowanceLocked(b, now);
      st.allowance = allowance;
      st.allowance_answer_s = Seconds(TakeoverAnswerTime());
      st.serial = b->serial;
      st.allowance_mark = b->allowance().Taken(allowance, grant_seq_,
                                               b->is_error_limit() ? b->in_flight_units() : 0);
      b->allowance().set_last_taken(now);
    }
    b->dirty = false;
    b->persisted = true;
  }
  while (!dropped_names_.empty() && steps < max_changes) {
    std::string name = std::move(dropped_names_.back());
    dropped_names_.pop_back();
    ++steps;
    // Dropped and made again since: the new budget's row replaces the old.
    if (FindBudgetLocked(name) == nullptr) d.removed.push_back(std::move(name));
  }
  d.more = !dirty_names_.empty() || !dropped_names_.empty();
  d.map = MapStateLocked();
  return d;
}

absl::Status Throttler::Restore(const ThrottleSnapshot& s) {
  std::lock_guard<DecisionMutex> lock(mu_);
  const TimePoint now = clock_->Now();
  RouteMap map(route_map_.defaults());
  for (const RouteMappingState& m : s.map.esi_routes) map.SetEsiGroup(m.route, m.target);
  for (const EsiGroupState& g : s.map.esi_groups) {
    map.SetEsiGroupLimit(g.name, WindowLimit{g.limit, FromSeconds(g.period_seconds)});
  }
  for (const RouteMappingState& m : s.map.poe_routes) map.SetPoePolicy(m.route, m.target);
  for (const PoePolicyState& p : s.map.poe_policies) {
    std::vector<PoeRuleShape> rules;
    for (const PoeRuleShapeState& r : p.rules) {
      PoeRuleShape shape;
      shape.name = r.name;
      shape.lower = absl::AsciiStrToLower(r.name);
      for (const PoeTierShapeState& t : r.tiers) {
        shape.tiers.push_back(PoeTierShape{WindowLimit{t.hits, FromSeconds(t.period_seconds)},
                                           FromSeconds(t.penalty_seconds)});
      }
      rules.push_back(std::move(shape));
    }
    map.SetPoeRules(p.name, std::move(rules));
  }

  std::unordered_map<std::string, BudgetFamily> families;
  for (const FamilyState& f : s.map.families) {
    std::optional<BudgetKind> kind = ParseBudgetKind(f.kind);
    if (!kind) continue;
    BudgetFamily& fam = families[f.name];
    fam.name = f.name;
    fam.kind = *kind;
    fam.counters = BudgetCounters{f.granted, f.denied, f.waits, f.restrictions};
    fam.longest_announced = FromSeconds(f.longest_announced_seconds);
  }
  absl::btree_map<std::string, std::unique_ptr<Budget>> budgets;
  std::vector<TakeoverCharge> charges;
  int64_t legacy = 0;
  for (const BudgetState& st : s.budgets) {
    std::optional<BudgetKind> kind = ParseBudgetKind(st.kind);
    if (!kind || st.limit <= 0 || st.period_seconds <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("throttle state: bad budget ", st.name));
    }
    if (st.family.empty()) {
      // Version 1 pooled every caller in one budget; that spend cannot be
      // split among callers. The new per-caller budgets start by probing,
      // so the upstream's own headers tell their state first.
      ++legacy;
      continue;
    }
    auto [fit, inserted] = families.try_emplace(st.family);
    if (inserted) {
      fit->second.name = st.family;
      fit->second.kind = *kind;
    }
    BudgetFamily* family = &fit->second;
    const Duration period = FromSeconds(st.period_seconds);
    const double written_at = st.written_at > 0 ? st.written_at : s.written_at;
    std::unique_ptr<Budget> b;
    // Reservations open when the row was written may still be spent: restore
    // them as calls answered at the latest possible time.
    const SpendTiming in_flight{RestoreTime(written_at), RestoreTime(st.in_flight_resp_hi)};
    if (*kind == BudgetKind::kEsiErrors) {
      b = std::make_unique<Budget>(st.name, family, st.scope, st.limit, period,
                                   MarginFor(st.limit));
      std::deque<SpendTiming> recent;
      for (const ErrorTimingState& e : st.recent_errors) {
        recent.push_back(SpendTiming{RestoreTime(e.sent_lo), RestoreTime(e.resp_hi)});
      }
      std::optional<TimePoint> end;
      if (st.window_end) end = RestoreTime(*st.window_end);
      if (st.external_remain) {
        b->errors()->RestoreExternal(st.external_remain, RestoreTime(st.external_until));
      }
      b->errors()->Restore(st.limit, st.learned, st.remain, end, st.probing || !s.clean_shutdown,
                           std::move(recent));
      b->allowance().set_covers_open(true);
      if (st.allowance && !s.clean_shutdown) {
        // The row bounds the errors the writer's calls made since it plus
        // the reservations then open, those open at the row included
        // (grant_allowance.h): all may be errors, answered as late as a call
        // the writer granted can be.
        // Held apart from the errors seen (ErrorWindow::ChargeTakeover), so
        // that it can end early once every holder named by the meta row has
        // its calls answered (throttle_takeover.cc).
        b->errors()->ChargeTakeover(std::max<int64_t>(*st.allowance, st.in_flight_calls),
                                    SpendTiming{RestoreTime(written_at),
                                                std::max(RestoreTime(st.in_flight_resp_hi),
                                                         now + FromSeconds(st.allowance_answer_s))},
                                    now);
        charges.push_back(TakeoverCharge{st.name, st.scope, RestoreTime(written_at)});
      } else {
        b->Charge(st.in_flight_calls, in_flight, now);  // worst case: every one errored
      }
    } else {
      b = std::make_unique<Budget>(st.name, family, st.scope, *kind, st.limit, period,
                                   MarginFor(st.limit), FromSeconds(st.penalty_seconds),
                                   st.learned);
      std::vector<FloatingWindow::Bucket> ledger;
      for (const LedgerBucketState& l : st.ledger) {
        ledger.push_back(FloatingWindow::Bucket{RestoreTime(l.first_resp), RestoreTime(l.resp_hi),
                                                RestoreTime(l.sent_lo), l.units});
      }
      std::vector<FloatingWindow::Step> phantom;
      for (const PhantomStepState& p : st.phantom) {
        phantom.push_back(FloatingWindow::Step{RestoreTime(p.until), p.amount});
      }
      std::vector<FloatingWindow::Step> external;
      for (const PhantomStepState& p : st.external_phantom) {
        external.push_back(FloatingWindow::Step{RestoreTime(p.until), p.amount});
      }
      b->window()->RestoreLedger(std::move(ledger), std::move(phantom), std::move(external));
      b->Charge(st.in_flight_units, in_flight, now);
      if (st.allowance && !s.clean_shutdown) {
        // The writer may have granted this much after the row was taken (and
        // a deposed one may still be granting for a moment): calls sent by
        // now + grace and answered as late as they can be.
        b->Charge(*st.allowance,
                  SpendTiming{RestoreTime(written_at), now + FromSeconds(st.allowance_answer_s)},
                  now);
      }
      // After a crash, grants made since the last write are unknown: probe
      // until the upstream's headers show the real state.
      b->set_observed((st.observed && s.clean_shutdown) || *kind == BudgetKind::kEsiUngrouped);
    }
    b->restriction().Restore(RestoreTime(st.restricted_until), st.restriction_level,
                             st.restriction_reason);
    b->restriction().RestoreSource(
        st.restricted_by, st.restriction_capped, st.restriction_cleared_by,
        st.restriction_cleared_at > 0 ? RestoreTime(st.restriction_cleared_at) : TimePoint{});
    if (!st.tightened_by.empty()) {
      b->restriction().RestoreTightened(st.tightened_by, RestoreTime(st.tightened_until));
    }
    b->counters() = BudgetCounters{st.granted, st.denied, st.waits, st.restrictions};
    b->persisted = true;
    // The row read here does not count what this throttler grants: until a
    // row of its own commits, a probe's worth, as a new budget.
    b->serial = next_serial_++;
    b->allowance().Start(ProbeAllowance(*b));
    b->allowance().set_last_taken(now);
    family->live++;
    budgets.emplace(st.name, std::move(b));
  }
  route_map_ = std::move(map);
  lru_.clear();
  restricted_.clear();
  dirty_names_.clear();
  dropped_names_.clear();
  routes_.clear();
  ++budget_epoch_;
  families_ = std::move(families);
  budgets_ = std::move(budgets);
  for (auto& [name, b] : budgets_) {
    b->lru_position = lru_.insert(lru_.end(), b.get());
    b->last_touch = now;
    if (b->restriction().Active(now)) restricted_.insert(b.get());
  }
  // The charges go into this coordinator's first rows, with its meta row: a
  // takeover of it then reads them with the holders it names, never the
  // old writer's charge with the new writer's holders.
  for (const TakeoverCharge& c : charges) {
    if (Budget* b = FindBudgetLocked(c.budget)) TouchLocked(b, now);
  }
  leases_ = LeaseTable(LeaseTable::FirstId(options_.leader_epoch, now));
  // A budget without a row may have been probed by the writer since its last
  // write: the budgets made from now on charge that probe.
  takeover_probe_.reset();
  if (!s.clean_shutdown) {
    takeover_probe_ = SpendTiming{RestoreTime(s.written_at), now + TakeoverAnswerTime()};
  }
  // Newer than every writer of what was read; holders of its own, named in
  // its own rows.
  incarnation_.store(s.incarnation + 1, std::memory_order_relaxed);
  error_holders_.clear();
  error_holders_grantable_.clear();
  unnamed_granted_.clear();
  takeover_waiting_.reset();
  takeover_charges_.clear();
  takeover_confirmed_.clear();
  takeover_settled_at_.reset();
  takeover_replaced_ = 0;
  takeover_answered_ = 0;
  if (!s.clean_shutdown && s.error_limit_holders) {
    // The meta row names everyone who may hold the writer's error-limit
    // calls (a row of an older writer names nobody: its charges stand).
    takeover_charges_ = std::move(charges);
    takeover_waiting_.emplace(s.error_limit_holders->begin(), s.error_limit_holders->end());
    if (takeover_waiting_->empty()) SettleTakeoverLocked(now);  // nobody held one
  }
  Changed();
  LOG(INFO) << "throttle: restored " << budgets_.size() << " budgets and " << families_.size()
            << " families from state written " << FormatRfc3339(RestoreTime(s.written_at))
            << (s.clean_shutdown ? " (clean shutdown)" : " (not clean: budgets probe first)")
            << (legacy > 0 ? absl::StrCat("; ", legacy, " pooled version-1 budgets left behind")
                           : "")
            << "; incarnation " << incarnation_.load(std::memory_order_relaxed)
            << (takeover_waiting_ ? absl::StrCat("; error-limit charges wait for ",
                                                 takeover_waiting_->size(), " holders")
                                  : "");
  return absl::OkStatus();
}

void Throttler::EnableWriteAhead(Duration interval) {
  std::lock_guard<DecisionMutex> lock(mu_);
  write_ahead_interval_ = std::max<Duration>(interval, std::chrono::milliseconds(1));
  if (write_ahead_.exchange(true)) return;
  // Budgets made before: nothing more until their first row commits.
  const TimePoint now = clock_->Now();
  for (auto& [name, b] : budgets_) {
    b->allowance().Start(0);
    b->allowance().set_last_taken(now);
    TouchLocked(b.get(), now);
  }
  Changed();
}

void Throttler::CommitAllowances(const std::vector<AllowanceCommit>& commits) {
  // In chunks like a walk: a write of 100,000 rows hands back as many.
  constexpr size_t kChunk = 512;
  for (size_t i = 0; i < commits.size();) {
    if (i > 0) mu_.LetWaitersIn();
    std::lock_guard<DecisionMutex> lock(mu_);
    HoldTimer hold(this);
    for (const size_t end = std::min(commits.size(), i + kChunk); i < end; ++i) {
      const AllowanceCommit& c = commits[i];
      Budget* b = FindBudgetLocked(c.name);
      if (b != nullptr && b->serial == c.serial) b->allowance().Committed(c.mark, c.allowance);
    }
  }
}

}  // namespace sluice::throttle
