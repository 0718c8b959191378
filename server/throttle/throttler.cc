#include "server/throttle/throttler.h"

#include <glog/logging.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <thread>

#include <time.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/rfc3339.h"
#include "server/throttle/limits.h"

namespace sluice::throttle {
namespace {

// Idle budgets are looked for at most this often, checking at most this many.
constexpr Duration kSweepInterval = std::chrono::milliseconds(250);
constexpr size_t kSweepChecks = 2000;
// Budgets listed for a BudgetQuery match at most.
constexpr size_t kMaxMatched = 100;
// Every write-ahead allowance is at least this share of its budget's limit
// (when the budget has the room): what a takeover charges a quiet budget
// beyond one call, and what a busy one may grant at once beyond its last
// interval's demand before its next row.
constexpr double kAllowanceShare = 0.05;

bool IsSuccess(int status) { return status >= 200 && status < 400; }
// ESI counts 4xx/5xx against the error limit; a transport failure may have
// been a 5xx at the edge, so it counts too (the conservative reading).
bool IsEsiError(int status) { return status == 0 || status >= 400; }
// A response that shows the upstream's real state for this call shape (not
// a throttling answer nor a transport failure): ends probe mode, and tells
// whether the route is in a rate-limit group at all.
bool ShowsUpstreamState(int status) {
  return status >= 200 && status < 500 && status != 420 && status != 429;
}
// A route's own default, used while its group (or policy) is unknown.
bool IsRouteDefault(BudgetKind kind) {
  return kind == BudgetKind::kEsiRoute || kind == BudgetKind::kPoeRoute;
}

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

bool Contains(const std::vector<LeaseUse>& uses, const Budget* budget) {
  for (const LeaseUse& use : uses) {
    if (use.budget == budget) return true;
  }
  return false;
}

// Route label without caller and egress: what a family lists.
std::string RouteLabel(const CallKey& key) {
  return absl::StrCat(UpstreamName(key.upstream), " ", key.route);
}

}  // namespace

int EsiCostTable::ForStatus(int status) const {
  if (status >= 200 && status < 300) return status_2xx;
  if (status >= 300 && status < 400) return status_3xx;
  if (status >= 400 && status < 500) return status_4xx;
  if (status >= 500 && status < 600) return status_5xx;
  return transport_failure;
}

int EsiCostTable::Max() const {
  return std::max({status_2xx, status_3xx, status_4xx, status_5xx, transport_failure});
}

namespace {

// The longest LetWaitersIn waits: a walk still advances while decisions keep
// arriving faster than they are served.
constexpr auto kMaxLetIn = std::chrono::milliseconds(1);

int64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}
int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
void RaiseTo(std::atomic<int64_t>* max, int64_t v) {
  int64_t cur = max->load(std::memory_order_relaxed);
  while (v > cur && !max->compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

}  // namespace

void Throttler::DecisionMutex::LetWaitersIn() {
  if (waiting_.load(std::memory_order_relaxed) == 0) return;
  const auto until = std::chrono::steady_clock::now() + kMaxLetIn;
  while (waiting_.load(std::memory_order_relaxed) > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
}

Throttler::HoldTimer::HoldTimer(Throttler* t)
    : t_(t), wall_ns_(SteadyNs()), cpu_ns_(ThreadCpuNs()) {}

Throttler::HoldTimer::~HoldTimer() {
  RaiseTo(&t_->longest_hold_ns_, SteadyNs() - wall_ns_);
  RaiseTo(&t_->longest_hold_cpu_ns_, ThreadCpuNs() - cpu_ns_);
}

Throttler::LockHold Throttler::TakeLongestHold() {
  return LockHold{Duration(longest_hold_ns_.exchange(0)),
                  Duration(longest_hold_cpu_ns_.exchange(0))};
}

Throttler::Throttler(const Clock* clock, ThrottlerOptions options)
    : clock_(clock),
      options_(std::move(options)),
      route_map_(RouteMapDefaults{options_.esi_default, options_.poe_default,
                                  options_.esi_error_limit_default, options_.esi_error_window,
                                  options_.esi_ungrouped}),
      leases_(LeaseTable::FirstId(options_.leader_epoch, clock->Now())),
      rng_(options_.seed != 0 ? options_.seed : std::random_device{}()) {}

// ---------------------------------------------------------------------------
// Costs, budgets and resolution

CallCost Throttler::CostFor(BudgetKind kind) const {
  switch (kind) {
    case BudgetKind::kEsiGroup:
    case BudgetKind::kEsiRoute: {
      CallCost c;
      c.reserve =
          options_.esi_reserve_cost > 0 ? options_.esi_reserve_cost : options_.esi_costs.Max();
      c.admission = options_.esi_admission_cost > 0 ? options_.esi_admission_cost
                                                    : options_.esi_costs.status_2xx;
      return c;
    }
    case BudgetKind::kEsiErrors:
      return CallCost{std::max(0, options_.esi_error_reserve_per_call), 1};
    case BudgetKind::kEsiUngrouped:  // a cap in calls
    case BudgetKind::kPoeTier:
    case BudgetKind::kPoeRoute:
      return CallCost{1, 1};
  }
  return CallCost{};
}

int64_t Throttler::MarginFor(int64_t limit) const {
  int64_t margin = static_cast<int64_t>(std::floor(static_cast<double>(limit) *
                                                   std::max(0.0, options_.margin_fraction))) +
                   std::max(0, options_.margin_units);
  return std::min(margin, std::max<int64_t>(0, limit - 1));
}

int64_t Throttler::ActualUnits(const Budget& budget, int status) const {
  switch (budget.kind()) {
    case BudgetKind::kEsiGroup:
    case BudgetKind::kEsiRoute:
      return options_.esi_costs.ForStatus(status);
    case BudgetKind::kEsiErrors:
      return IsEsiError(status) ? 1 : 0;
    case BudgetKind::kEsiUngrouped:
    case BudgetKind::kPoeTier:
    case BudgetKind::kPoeRoute:
      // PoE may not count refused calls, but counting them is the safe side.
      return 1;
  }
  return 1;
}

Budget* Throttler::FindBudgetLocked(const std::string& name) {
  auto it = budgets_.find(name);
  return it == budgets_.end() ? nullptr : it->second.get();
}

BudgetFamily* Throttler::FamilyLocked(const std::string& name, BudgetKind kind) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.name = name;
    it->second.kind = kind;
  }
  return &it->second;
}

void Throttler::TouchLocked(Budget* budget, TimePoint now) {
  if (!budget->dirty) {
    budget->dirty = true;
    dirty_names_.push_back(budget->name());
  }
  budget->last_touch = now;
  lru_.splice(lru_.end(), lru_, budget->lru_position);
}

absl::StatusOr<Budget*> Throttler::BudgetForSpecLocked(const BudgetSpec& spec, TimePoint now) {
  if (Budget* b = FindBudgetLocked(spec.name)) {
    // Learned limits changed since the budget was made (or it was made from
    // a default before the limit header parsed): adopt them.
    if (spec.learned && b->window() != nullptr &&
        (!b->learned() || b->limit() != spec.limit.limit || b->period() != spec.limit.period ||
         b->penalty() != spec.penalty)) {
      b->window()->SetLimits(spec.limit.limit, spec.limit.period, MarginFor(spec.limit.limit));
      b->set_learned(true);
      b->set_penalty(spec.penalty);
      TouchLocked(b, now);
      Changed();
    }
    return b;
  }
  if (budgets_.size() >= options_.max_budgets) {
    // Everything idle now, except budgets touched at this very instant (this
    // resolution may already hold them).
    SweepIdleLocked(now + options_.idle_check_after - Duration(1), options_.max_budgets);
    if (budgets_.size() >= options_.max_budgets) {
      return absl::ResourceExhaustedError(
          absl::StrCat("too many budgets (", options_.max_budgets, "); not creating ", spec.name));
    }
  }
  BudgetFamily* family = FamilyLocked(spec.family.empty() ? spec.name : spec.family, spec.kind);
  std::unique_ptr<Budget> b;
  if (spec.kind == BudgetKind::kEsiErrors) {
    b = std::make_unique<Budget>(spec.name, family, spec.scope, spec.limit.limit, spec.limit.period,
                                 MarginFor(spec.limit.limit));
    b->allowance().set_covers_open(true);
  } else {
    b = std::make_unique<Budget>(spec.name, family, spec.scope, spec.kind, spec.limit.limit,
                                 spec.limit.period, MarginFor(spec.limit.limit), spec.penalty,
                                 spec.learned);
    // An ungrouped route's budget is our own cap, not an upstream state to
    // discover: nothing to probe.
    if (spec.kind == BudgetKind::kEsiUngrouped) b->set_observed(true);
  }
  Budget* raw = b.get();
  raw->serial = next_serial_++;
  // No row of it yet: a probe's worth until its first row commits.
  raw->allowance().Start(ProbeAllowance(*raw));
  raw->allowance().set_last_taken(now);
  ChargeTakeoverProbeLocked(raw, now);
  family->live++;
  raw->lru_position = lru_.insert(lru_.end(), raw);
  budgets_.emplace(spec.name, std::move(b));
  TouchLocked(raw, now);
  Changed();
  return raw;
}

absl::StatusOr<Throttler::ResolvedRoute*> Throttler::ResolveLocked(const CallKey& key) {
  scratch_key_.clear();
  scratch_key_.append(UpstreamName(key.upstream));
  for (const std::string* part : {&key.route, &key.egress, &key.caller}) {
    scratch_key_.push_back('\x1f');
    scratch_key_.append(*part);
  }
  auto it = routes_.find(scratch_key_);
  if (it != routes_.end() && it->second.generation == route_map_.generation() &&
      it->second.budget_epoch == budget_epoch_) {
    return &it->second;
  }
  if (it == routes_.end() && routes_.size() >= options_.max_routes) {
    // A cache: start over rather than track recency per entry.
    routes_.clear();
  }
  const TimePoint now = clock_->Now();
  ResolvedRoute resolved;
  resolved.generation = route_map_.generation();
  resolved.budget_epoch = budget_epoch_;
  resolved.label = key.Label();
  const std::string route_label = RouteLabel(key);
  for (const BudgetSpec& spec : route_map_.Resolve(key)) {
    absl::StatusOr<Budget*> b = BudgetForSpecLocked(spec, now);
    if (!b.ok()) return b.status();
    (*b)->family()->AddRoute(route_label);
    resolved.uses.push_back(LeaseUse{*b, CostFor((*b)->kind())});
  }
  // Creating budgets may have swept idle ones (and emptied the cache): look
  // the slot up again.
  resolved.budget_epoch = budget_epoch_;
  ResolvedRoute& slot = routes_[scratch_key_];
  slot = std::move(resolved);
  return &slot;
}

// ---------------------------------------------------------------------------
// Idle budgets

void Throttler::SweepIdleLocked(TimePoint now, size_t max_checks) {
  size_t checked = 0;
  while (!lru_.empty() && checked < max_checks) {
    Budget* b = lru_.front();
    if (b->last_touch + options_.idle_check_after > now) break;
    ++checked;
    if (b->Idle(clock_->Now())) {
      DropLocked(b);
    } else {
      // Busy, still refilling or restricted: look again later. Not a change
      // worth persisting, so not a touch.
      b->last_touch = clock_->Now();
      lru_.splice(lru_.end(), lru_, b->lru_position);
    }
  }
}

void Throttler::DropLocked(Budget* budget) {
  lru_.erase(budget->lru_position);
  restricted_.erase(budget);
  budget->family()->live--;
  if (budget->persisted) dropped_names_.push_back(budget->name());
  ++budget_epoch_;  // cached resolutions may hold it
  // Erased by iterator: the key lives in the budget being destroyed.
  budgets_.erase(budgets_.find(budget->name()));
  Changed();
}

// ---------------------------------------------------------------------------
// Leases

void Throttler::AttachLeaseLocked(Lease* lease) {
  for (const LeaseUse& use : lease->uses) {
    use.budget->leases().insert(lease->id);
    use.budget->NoteLeaseAnswerBy(lease->expires_at + options_.max_request_duration);
  }
}

void Throttler::EraseLeaseLocked(Lease* lease) {
  for (const LeaseUse& use : lease->uses) use.budget->leases().erase(lease->id);
  leases_.Erase(lease->id);
}

// ---------------------------------------------------------------------------
// Decisions

int64_t Throttler::ProbeAllowance(const Budget& b) const {
  return std::max(1, options_.probe_calls) * std::max<int64_t>(1, CostFor(b.kind()).reserve);
}

void Throttler::ChargeTakeoverProbeLocked(Budget* b, TimePoint now) {
  // Once the old leader's last possible probe has left the window, there is
  // nothing to charge (and a charge would have no effect).
  if (!takeover_probe_ || now >= takeover_probe_->resp_hi + b->period()) return;
  b->Charge(ProbeAllowance(*b), *takeover_probe_, now);
}

int64_t Throttler::SizeAllowanceLocked(Budget* b, TimePoint now) const {
  if (ErrorWindow* e = b->errors()) {
    // An error limit's row bounds errors since it plus reservations open
    // (grant_allowance.h, covers_open): never below those open now, up to
    // half again the most the last interval asked for (at least a small
    // share of the limit), at most the room the address has. Calls that
    // succeed give their unit back, so it does not cap the calls per
    // interval, only how many may be unsettled or failed at once.
    const int64_t open = e->in_flight();
    const int64_t room = e->Available(now) + open;
    const int64_t share =
        static_cast<int64_t>(std::ceil(static_cast<double>(e->limit()) * kAllowanceShare));
    const int64_t wanted = std::max<int64_t>(
        share, static_cast<int64_t>(std::ceil(1.5 * static_cast<double>(b->allowance().peak()))));
    return std::max<int64_t>(open + std::max<int64_t>(1, CostFor(b->kind()).reserve),
                             std::min(wanted, room));
  }
  // Enough for what the budget was asked since its last row, over a few
  // intervals or twice the time that row took to come round (a write slowed
  // by a busy machine or a failing one does not stall a busy budget), but
  // never more than the budget can have room for by then: this is what a
  // takeover charges. At least one call's worst cost, so a quiet budget's
  // next call never waits for a write, and a small share of the budget, so
  // a sudden rise in demand is not held to the last interval's.
  const CallCost cost = CostFor(b->kind());
  const Duration since = std::max(now - b->allowance().last_taken(), write_ahead_interval_);
  const Duration horizon =
      std::max(write_ahead_interval_ * std::max(1, options_.write_ahead_intervals), 2 * since);
  const double demand =
      static_cast<double>(b->allowance().wanted()) * Seconds(horizon) / Seconds(since);
  const int64_t share =
      static_cast<int64_t>(std::ceil(static_cast<double>(b->limit()) * kAllowanceShare));
  const int64_t room = b->window()->RoomAt(now + horizon) - b->in_flight_calls() * cost.admission;
  int64_t wanted = std::max(static_cast<int64_t>(std::ceil(demand)), share);
  // A budget not observed yet grants only probes (probe_calls in flight):
  // what it was asked (every waiting caller asks) says nothing of what it
  // can grant before its next row, and a takeover would charge all of it.
  // A default budget of a route whose group is not known yet (150 per 15
  // min) otherwise came back full a restore's answer time plus a window
  // later, holding the route that long.
  if (!b->observed()) {
    wanted = std::max<int64_t>(1, cost.reserve) * std::max(1, options_.probe_calls);
  }
  return std::max<int64_t>(std::max<int64_t>(1, cost.reserve), std::min<int64_t>(wanted, room));
}

int64_t Throttler::GrantableLocked(const std::vector<LeaseUse>& uses, int64_t want, TimePoint now,
                                   Budget** limiting) {
  int64_t grant = want;
  *limiting = nullptr;
  for (const LeaseUse& use : uses) {
    int64_t c = use.budget->CallsAvailable(want, use.cost, options_.probe_calls, now);
    if (AllowanceAppliesLocked(*use.budget) && use.cost.reserve > 0) {
      GrantAllowance& a = use.budget->allowance();
      a.Want(want * use.cost.reserve);
      const int64_t allowed = std::max<int64_t>(0, a.left()) / use.cost.reserve;
      if (allowed < c) {
        c = allowed;
        // Its next row sizes a new allowance from this demand.
        TouchLocked(use.budget, now);
      }
    }
    if (c < grant || (*limiting == nullptr && c < want)) {
      grant = std::min(grant, c);
      *limiting = use.budget;
    }
  }
  return grant;
}

TimePoint Throttler::NextTimeLocked(const std::vector<LeaseUse>& uses, int64_t calls, TimePoint now,
                                    Budget** limiting, bool* firm) {
  TimePoint at = now;
  *limiting = nullptr;
  *firm = true;
  for (const LeaseUse& use : uses) {
    CallTime t =
        use.budget->NextCallsTime(calls, use.cost, options_.probe_calls, options_.retry_hint, now);
    if (AllowanceAppliesLocked(*use.budget) &&
        use.budget->allowance().left() < calls * use.cost.reserve) {
      // Only the next committed row can give more: ask again soon.
      t.at = std::max(t.at, now + options_.retry_hint);
      t.firm = false;
    }
    *firm = *firm && t.firm;
    if (t.at > at) {
      at = t.at;
      *limiting = use.budget;
    }
  }
  return at;
}

absl::Status Throttler::CheckCapacityLocked(const std::vector<LeaseUse>& uses, int64_t calls) {
  for (const LeaseUse& use : uses) {
    const Budget* b = use.budget;
    const int64_t room = b->limit() - b->margin();
    const int64_t units = use.cost.admission + (calls - 1) * use.cost.reserve;
    if (units > room) {
      int64_t max_calls =
          room < use.cost.admission
              ? 0
              : (use.cost.reserve > 0 ? (room - use.cost.admission) / use.cost.reserve + 1 : calls);
      return absl::OutOfRangeError(absl::StrCat(calls, " calls exceed what budget ", b->name(),
                                                " can grant at once (", max_calls, ")"));
    }
  }
  return absl::OkStatus();
}

Lease* Throttler::GrantLocked(const CallKey& key, const std::string& holder, ResolvedRoute* route,
                              int64_t calls, TimePoint usable_from, TimePoint now, bool arming) {
  Lease lease;
  lease.holder = holder;
  lease.arming = arming;
  lease.key = key;
  lease.uses = route->uses;
  lease.granted = calls;
  lease.granted_at = now;
  lease.grant_seq = ++grant_seq_;
  lease.usable_from = usable_from;
  lease.expires_at = usable_from + options_.lease_ttl;
  lease.lapse_at = lease.expires_at + options_.max_request_duration + options_.report_grace;
  for (const LeaseUse& use : lease.uses) {
    use.budget->Reserve(calls, calls * use.cost.reserve);
    use.budget->allowance().Grant(calls * use.cost.reserve);
    use.budget->counters().granted += calls;
    use.budget->family()->counters.granted += calls;
    TouchLocked(use.budget, now);
  }
  Changed();
  Lease* created = leases_.Create(std::move(lease));
  AttachLeaseLocked(created);
  return created;
}

absl::StatusOr<PermitTime> Throttler::NextPermitted(const CallKey& key, int n) {
  if (absl::Status s = ValidateCallKey(key); !s.ok()) return s;
  if (absl::Status s = CheckCallCount("n", n); !s.ok()) return s;
  std::lock_guard<DecisionMutex> lock(mu_);
  const TimePoint now = clock_->Now();
  ProcessDueLocked(now);
  absl::StatusOr<ResolvedRoute*> route = ResolveLocked(key);
  if (!route.ok()) return route.status();
  if (absl::Status s = CheckCapacityLocked((*route)->uses, n); !s.ok()) return s;
  Budget* limiting = nullptr;
  bool firm = true;
  PermitTime out;
  out.at = NextTimeLocked((*route)->uses, n, now, &limiting, &firm);
  out.wait = out.at - now;
  if (limiting != nullptr) out.limiting_budget = limiting->name();
  return out;
}

absl::StatusOr<AcquireResult> Throttler::Acquire(const CallKey& key, int n, Duration max_wait,
                                                 const std::string& caller) {
  if (absl::Status s = ValidateCallKey(key); !s.ok()) return s;
  if (absl::Status s = CheckCallCount("n", n); !s.ok()) return s;
  if (absl::Status s = CheckMaxWait("max_wait", max_wait, options_.max_acquire_wait); !s.ok()) {
    return s;
  }
  std::lock_guard<DecisionMutex> lock(mu_);
  const TimePoint now = clock_->Now();
  ProcessDueLocked(now);
  absl::StatusOr<ResolvedRoute*> route = ResolveLocked(key);
  if (!route.ok()) return route.status();
  if (absl::Status s = CheckCapacityLocked((*route)->uses, n); !s.ok()) return s;

  AcquireResult out;
  Budget* limiting = nullptr;
  bool unnamed = false;
  if (HolderLimitLocked(
          **route, [&] { return CallerHolder(caller); }, now, &unnamed) < n) {
    // Named in the next row first (within one write interval).
    out.at = now + options_.retry_hint;
    out.wait = options_.retry_hint;
    return out;
  }
  if (GrantableLocked((*route)->uses, n, now, &limiting) >= n) {
    out.at = now;
  } else {
    bool firm = true;
    out.at = NextTimeLocked((*route)->uses, n, now, &limiting, &firm);
    if (out.at <= now) out.at = now + options_.retry_hint;  // defensive: never "now" on refusal
    if (TimePoint soon = SettlingRetryLocked(**route, out.at, now); soon < out.at) {
      out.at = soon;
      firm = false;  // a hint: the charge may end before
    }
    // Under the write-ahead allowance a reservation ahead is bounded, so a
    // takeover knows when every granted call has been answered.
    const bool too_far_ahead = write_ahead() && out.at > now + options_.write_ahead_max_wait;
    if (!firm || out.at > now + max_wait || too_far_ahead) {
      if (limiting != nullptr) {
        limiting->counters().denied++;
        limiting->family()->counters.denied++;
        out.limiting_budget = limiting->name();
      }
      out.wait = out.at - now;
      Changed();
      return out;
    }
    // Reserving now for a later time is safe: the reservation counts from
    // now on, and by out.at the window has room for it by construction.
    if (limiting != nullptr) {
      limiting->counters().waits++;
      limiting->family()->counters.waits++;
    }
  }
  Lease* lease = GrantLocked(key, caller, *route, n, out.at, now);
  if (unnamed) GrantedUnnamedLocked(**route, n);
  out.granted = true;
  out.wait = out.at - now;
  out.lease_id = lease->id;
  out.expires_at = lease->expires_at;
  if (limiting != nullptr) out.limiting_budget = limiting->name();
  return out;
}

absl::StatusOr<LeaseGrant> Throttler::LeaseTokens(const std::string& agent_id, const CallKey& key,
                                                  int count, bool arm_before_use,
                                                  const std::string& agent_instance) {
  if (absl::Status s = ValidateCallKey(key); !s.ok()) return s;
  if (absl::Status s = CheckCallCount("count", count); !s.ok()) return s;
  std::lock_guard<DecisionMutex> lock(mu_);
  const TimePoint now = clock_->Now();
  ProcessDueLocked(now);
  absl::StatusOr<ResolvedRoute*> route = ResolveLocked(key);
  if (!route.ok()) return route.status();

  int64_t want = std::min(count, std::max(1, options_.max_lease_calls));
  for (const LeaseUse& use : (*route)->uses) {
    if (use.cost.reserve <= 0) continue;
    int64_t share = static_cast<int64_t>(static_cast<double>(use.budget->limit()) *
                                         options_.max_lease_fraction / use.cost.reserve);
    want = std::min(want, std::max<int64_t>(1, share));
  }
  LeaseGrant out;
  Budget* limiting = nullptr;
  bool unnamed = false;
  want = std::min(want, HolderLimitLocked(
                            **route, [&] { return AgentHolder(agent_id, agent_instance); }, now,
                            &unnamed));
  if (want <= 0) {
    // Named in the next row first (within one write interval).
    out.retry_at = now + options_.retry_hint;
    return out;
  }
  const int64_t grant = GrantableLocked((*route)->uses, want, now, &limiting);
  if (limiting != nullptr) out.limiting_budget = limiting->name();
  if (grant > 0) {
    Lease* lease = GrantLocked(key, agent_id, *route, grant, now, now, arm_before_use);
    if (unnamed) GrantedUnnamedLocked(**route, grant);
    out.lease_id = lease->id;
    out.granted = grant;
    out.expires_at = lease->expires_at;
    out.ttl = options_.lease_ttl;
    out.arm_before_use = lease->arming;
    return out;
  }
  bool firm = true;
  out.retry_at = NextTimeLocked((*route)->uses, 1, now, &limiting, &firm);
  if (out.retry_at <= now) out.retry_at = now + options_.retry_hint;
  if (limiting != nullptr && out.retry_at > now + options_.retry_hint &&
      !limiting->restriction().Active(now) && limiting->in_flight_units() > 0) {
    // Calls in flight usually settle below their reservation (a 2xx costs 2
    // of the 5 reserved) or come back unspent: room may free up before the
    // window returns anything. Ask again as soon as that could be, but not
    // sooner: if even every call in flight coming back unspent leaves no
    // room, the window's own return time is the answer (asking earlier
    // would only hand the caller's work back and forth).
    TimePoint earliest = now + options_.retry_hint;
    for (const LeaseUse& use : (*route)->uses) {
      earliest = std::max(earliest, use.budget->EarliestCallsTime(1, use.cost, now));
    }
    out.retry_at = std::min(out.retry_at, earliest);
  }
  out.retry_at = SettlingRetryLocked(**route, out.retry_at, now);
  if (limiting != nullptr) {
    out.limiting_budget = limiting->name();
    out.limiting_scope = limiting->scope();
    limiting->counters().denied++;
    limiting->family()->counters.denied++;
  }
  Changed();
  return out;
}

absl::StatusOr<int64_t> Throttler::ArmTokens(const std::string& agent_id, int64_t lease_id,
                                             int count) {
  if (absl::Status s = CheckCallCount("count", count); !s.ok()) return s;
  std::lock_guard<DecisionMutex> lock(mu_);
  const TimePoint now = clock_->Now();
  // Expiries first: a lease is never armed after its unarmed calls were
  // released.
  ProcessDueLocked(now);
  Lease* lease = leases_.Find(lease_id);
  if (lease == nullptr) {
    return absl::NotFoundError(absl::StrCat("lease ", lease_id, " is closed or unknown"));
  }
  if (lease->holder != agent_id) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease ", lease_id, " is held by another agent"));
  }
  if (!lease->arming) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease ", lease_id, " was not granted with arm_before_use"));
  }
  if (lease->revoked) {
    return absl::FailedPreconditionError(absl::StrCat("lease ", lease_id, " was revoked"));
  }
  if (now >= lease->expires_at) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease ", lease_id, " expired at ", FormatRfc3339(lease->expires_at)));
  }
  // Nothing a budget holds changes: leases are not persisted, so no
  // Changed().
  lease->armed = std::min(lease->granted, lease->armed + count);
  return lease->armed;
}

// ---------------------------------------------------------------------------
// Observations

SpendTiming Throttler::TimingLocked(const Observation& o, const Lease* lease, TimePoint now) const {
  // The call cannot have been answered before its lease was granted, nor
  // after the report arrived.
  const TimePoint floor =
      lease != nullptr
          ? lease->granted_at
          : now - (options_.lease_ttl + options_.max_request_duration + options_.report_grace);
  TimePoint resp_hi = now;
  if (o.response_age) {
    resp_hi = now - std::max(Duration::zero(), *o.response_age);
  } else if (o.observed_at) {
    resp_hi = std::min(now, *o.observed_at + options_.agent_clock_skew);
  }
  resp_hi = std::clamp(resp_hi, std::min(floor, now), now);
  TimePoint sent_lo;
  if (o.sent_age) {
    sent_lo = now - std::max(Duration::zero(), *o.sent_age) - options_.transit_allowance;
  } else if (lease != nullptr) {
    sent_lo = lease->granted_at;
  } else {
    sent_lo = resp_hi - options_.max_request_duration;
  }
  if (lease != nullptr) sent_lo = std::max(sent_lo, lease->granted_at);
  sent_lo = std::min(sent_lo, resp_hi);
  return SpendTiming{sent_lo, resp_hi};
}

bool Throttler::LearnLocked(const CallKey& key, const ParsedHeaders& h, int status,
                            const ReportOrigin& origin) {
  bool changed = false;
  // Another team's report teaches only what nobody taught yet: a forged
  // limit must not change (loosen, or shrink for everyone) what agents'
  // answers showed, nor move a known route.
  const bool external = origin.external();
  if (key.upstream == Upstream::kEsi) {
    if (h.esi_group && external &&
        (route_map_.EsiRouteOf(key.route, nullptr) != EsiRouteKind::kUnknown ||
         route_map_.EsiGroupLimit(h.esi_group->group) != nullptr)) {
      // Known already.
    } else if (h.esi_group) {
      changed |= route_map_.SetEsiGroup(key.route, h.esi_group->group);
      if (h.esi_group->limit && h.esi_group->window) {
        changed |= route_map_.SetEsiGroupLimit(
            h.esi_group->group, WindowLimit{*h.esi_group->limit, *h.esi_group->window});
      }
    } else if (!external && ShowsUpstreamState(status) &&
               route_map_.EsiRouteOf(key.route, nullptr) == EsiRouteKind::kUnknown) {
      // ESI names the group on every response of a grouped route (esi-docs,
      // "Rate Limiting"); an answer without one comes from a route outside
      // any group, governed by the error limit only. A route once seen in a
      // group stays there: headers never loosen the model.
      changed |= route_map_.SetEsiUngrouped(key.route);
    }
  }
  if (key.upstream == Upstream::kPoe && h.poe &&
      !(external && (route_map_.PoePolicyOf(key.route) != nullptr ||
                     route_map_.PoeRules(h.poe->policy) != nullptr))) {
    changed |= route_map_.SetPoePolicy(key.route, h.poe->policy);
    if (h.poe->complete) {
      std::vector<PoeRuleShape> shapes;
      for (const PoeRule& rule : h.poe->rules) {
        PoeRuleShape shape;
        shape.name = rule.name;
        shape.lower = absl::AsciiStrToLower(rule.name);
        for (const PoeTier& t : rule.tiers) {
          shape.tiers.push_back(
              PoeTierShape{WindowLimit{t.hits, std::chrono::seconds(t.period_seconds)},
                           std::chrono::seconds(t.restriction_seconds)});
        }
        shapes.push_back(std::move(shape));
      }
      changed |= route_map_.SetPoeRules(h.poe->policy, std::move(shapes));
    }
  }
  if (changed) Changed();
  return changed;
}

void Throttler::RechargeLeasesLocked(const CallKey& key) {
  // Calls of this route already leased under the old mapping will be spent
  // against the new budgets too: reserve them there before anyone else is
  // granted. (Reservations in budgets the route no longer uses are released
  // when each call settles.)
  const TimePoint now = clock_->Now();
  for (int64_t id : leases_.OfRoute(key.upstream, key.route)) {
    Lease* lease = leases_.Find(id);
    if (lease == nullptr) continue;
    const int64_t n = lease->outstanding();
    if (n <= 0) continue;
    absl::StatusOr<ResolvedRoute*> route = ResolveLocked(lease->key);
    if (!route.ok()) continue;
    for (const LeaseUse& use : (*route)->uses) {
      if (lease->Uses(use.budget)) continue;
      use.budget->Reserve(n, n * use.cost.reserve);
      // Not refusable (the calls are out): they use up the allowance, which
      // may go below zero until the next row.
      use.budget->allowance().Grant(n * use.cost.reserve);
      use.budget->leases().insert(lease->id);
      use.budget->NoteLeaseAnswerBy(lease->expires_at + options_.max_request_duration);
      TouchLocked(use.budget, now);
      lease->uses.push_back(use);
    }
  }
}

void Throttler::ObserveLocked(const Observation& o, const ReportOrigin& origin, TimePoint now,
                              Revocations* revocations) {
  const ParsedHeaders headers = ParseRateLimitHeaders(o.key.upstream, o.headers, now);
  for (const std::string& p : headers.problems) problems_.Report(p);

  Lease* lease = o.lease_id != 0 ? leases_.Find(o.lease_id) : nullptr;
  if (lease != nullptr &&
      (lease->key.upstream != o.key.upstream || lease->key.route != o.key.route ||
       lease->key.caller != o.key.caller || lease->key.egress != o.key.egress)) {
    problems_.Report(absl::StrCat("observation for ", o.key.Label(), " names lease ", o.lease_id,
                                  " of ", lease->key.Label(), "; treated as unleased"));
    lease = nullptr;
  }
  if (lease != nullptr && lease->outstanding() <= 0) {
    problems_.Report(absl::StrCat("more observations than granted calls on lease ", o.lease_id,
                                  " (", lease->holder, ")"));
    lease = nullptr;
  }
  if (o.lease_id != 0 && lease == nullptr && leases_.Find(o.lease_id) == nullptr) {
    // Lapsed already (then charged twice, which is safe) or from a previous run.
    problems_.Report(absl::StrCat("observation names unknown lease from ", o.key.Label()));
  }
  const SpendTiming timing = TimingLocked(o, lease, now);

  if (LearnLocked(o.key, headers, o.status, origin)) RechargeLeasesLocked(o.key);
  absl::StatusOr<ResolvedRoute*> resolved = ResolveLocked(o.key);
  if (!resolved.ok()) {
    problems_.Report(
        absl::StrCat("cannot resolve ", o.key.Label(), ": ", resolved.status().message()));
  }
  // A copy: settling below may not resolve again, but keep it robust.
  const std::vector<LeaseUse> uses = resolved.ok() ? (*resolved)->uses : std::vector<LeaseUse>{};
  const std::string label = resolved.ok() ? (*resolved)->label : o.key.Label();

  // Settle the call where the response shows it drew (the route's budgets as
  // now known), release the reservations it turned out not to need (groups
  // held while the route's group was unknown), charge budgets it drew from
  // without a reservation (learned from this very response).
  if (lease != nullptr) {
    for (const LeaseUse& use : lease->uses) {
      if (!resolved.ok() || Contains(uses, use.budget)) {
        const int64_t actual = ActualUnits(*use.budget, o.status);
        use.budget->Settle(1, use.cost.reserve, actual, timing, now);
        RefundLocked(*lease, use, use.cost.reserve - actual);
      } else {
        use.budget->Release(1, use.cost.reserve);
        RefundLocked(*lease, use, use.cost.reserve);
      }
      TouchLocked(use.budget, now);
    }
  }
  const bool esi_errors_quiet =
      o.key.upstream == Upstream::kEsi && IsSuccess(o.status) && !headers.esi_error;
  for (const LeaseUse& use : uses) {
    use.budget->counters().reported++;
    use.budget->family()->counters.reported++;
    if (lease == nullptr || !lease->Uses(use.budget)) {
      use.budget->Charge(ActualUnits(*use.budget, o.status), timing, now);
      TouchLocked(use.budget, now);
    }
    if (ShowsUpstreamState(o.status) && use.budget->window() != nullptr) {
      use.budget->set_observed(true);
    }
    // A success shows the address is not error-limited; routes in a
    // rate-limit group send no error-limit headers to say more (esi-docs,
    // "Rate Limiting": the two sets of headers are mutually exclusive).
    if (esi_errors_quiet && use.budget->is_error_limit()) use.budget->set_observed(true);
  }
  if (lease != nullptr) {
    lease->observed++;
    if (lease->arming && lease->observed > lease->armed) {
      // The holder made a call it had not armed: its arming says nothing
      // about what it may have sent, so the lease keeps every call to the
      // lapse, as one without arming does.
      problems_.Report(absl::StrCat("lease of ", lease->holder, " on ", lease->key.Label(),
                                    " reported more calls than it armed; kept to its lapse"));
      lease->arming = false;
    }
    CloseIfDoneLocked(lease);
  }

  if (resolved.ok()) {
    CorrectLocked(o, origin, headers, uses, label, timing, now, revocations);
    if (IsSuccess(o.status)) {
      for (const LeaseUse& use : uses) use.budget->restriction().OnSuccess();
    }
  }
  Changed();
}

void Throttler::CorrectLocked(const Observation& o, const ReportOrigin& origin,
                              const ParsedHeaders& h, const std::vector<LeaseUse>& uses,
                              const std::string& label, const SpendTiming& timing, TimePoint now,
                              Revocations* revocations) {
  const Duration retry_after = h.retry_after.value_or(Duration::zero());
  // A throttling answer without headers blocks the route's own budget: its
  // default while the group is unknown (not every group it might be in),
  // otherwise every window budget it draws from.
  auto restrict_route = [&](const std::string& reason) {
    bool unknown = false;
    for (const LeaseUse& use : uses) unknown |= IsRouteDefault(use.budget->kind());
    for (const LeaseUse& use : uses) {
      if (use.budget->is_error_limit()) continue;
      if (unknown && !IsRouteDefault(use.budget->kind())) continue;
      RestrictLocked(use.budget, now + retry_after, reason, origin, now, revocations);
    }
  };
  if (o.key.upstream == Upstream::kEsi) {
    Budget* group = nullptr;
    if (h.esi_group) {
      group =
          FindBudgetLocked(BudgetName(EsiGroupFamily(h.esi_group->group), EsiCallerScope(o.key)));
      if (group != nullptr && group->window() != nullptr &&
          (h.esi_group->remaining || h.esi_group->used)) {
        const int64_t limit = h.esi_group->limit.value_or(group->limit());
        int64_t used = std::numeric_limits<int64_t>::min();
        if (h.esi_group->used) used = *h.esi_group->used;
        if (h.esi_group->remaining) used = std::max(used, limit - *h.esi_group->remaining);
        ApplyUsedLocked(group, used, origin, timing, now);
      }
    }
    Budget* errors = FindBudgetLocked(BudgetName(EsiErrorsFamily(), EgressScope(o.key)));
    if (errors != nullptr && h.esi_error && origin.external()) {
      // Another team's header: held apart, capped, named, clearable.
      if (errors->errors()->ApplyExternalHeader(h.esi_error->remain, h.esi_error->reset_seconds,
                                                timing, ExternalCapLocked(*errors, now), now)) {
        errors->restriction().NoteTightened(origin.caller, errors->errors()->external_until());
        TouchLocked(errors, now);
      }
    } else if (errors != nullptr && h.esi_error) {
      errors->errors()->ApplyHeader(h.esi_error->remain, h.esi_error->reset_seconds, timing,
                                    IsEsiError(o.status), now);
      errors->errors()->set_margin(MarginFor(errors->limit()));
      TouchLocked(errors, now);
    }
    if (o.status == 420 && errors != nullptr) {
      std::optional<int64_t> reset = h.esi_error ? h.esi_error->reset_seconds : std::nullopt;
      if (origin.external() && reset) {
        // The window's own end is a restriction too: no longer than the cap.
        *reset = std::min<int64_t>(*reset, std::chrono::duration_cast<std::chrono::seconds>(
                                               ExternalCapLocked(*errors, now) - now)
                                               .count());
      }
      TimePoint end = errors->errors()->Exhaust(reset, now);
      RestrictLocked(errors, std::max(end, now + retry_after),
                     absl::StrCat("420 on ", label, ": ESI error limit exhausted"), origin, now,
                     revocations);
    }
    if (o.status == 429) {
      const std::string reason = absl::StrCat("429 on ", label);
      if (group != nullptr) {
        RestrictLocked(group, now + retry_after, reason, origin, now, revocations);
      } else {
        // No group header (ESI sends some bare 429s from deep in the server).
        restrict_route(reason);
      }
    }
    return;
  }

  bool restricted = false;
  if (h.poe) {
    for (const PoeRule& rule : h.poe->rules) {
      if (!rule.state) continue;
      const std::string lower = absl::AsciiStrToLower(rule.name);
      const std::string scope = PoeRuleScope(lower, o.key);
      for (size_t i = 0; i < rule.state->size(); ++i) {
        const PoeTierState& st = (*rule.state)[i];
        Budget* b = FindBudgetLocked(BudgetName(PoeTierFamily(h.poe->policy, lower, i), scope));
        if (b == nullptr || b->window() == nullptr) continue;
        if (b->period() != std::chrono::seconds(st.period_seconds)) {
          problems_.Report(absl::StrCat("X-Rate-Limit-", rule.name, "-State tier ", i, " period ",
                                        st.period_seconds, "s does not match ", b->name()));
          continue;
        }
        ApplyUsedLocked(b, st.hits, origin, timing, now);
        if (st.active_restriction_seconds > 0) {
          RestrictLocked(b,
                         std::max(now + std::chrono::seconds(st.active_restriction_seconds),
                                  now + retry_after),
                         absl::StrCat("PoE ", h.poe->policy, " ", rule.name, " tier ", i,
                                      " restricted (", o.status, " on ", label, ")"),
                         origin, now, revocations);
          restricted = true;
        }
      }
    }
  }
  if (o.status == 429 && !restricted) restrict_route(absl::StrCat("429 on ", label));
}

void Throttler::ApplyUsedLocked(Budget* b, int64_t used, const ReportOrigin& origin,
                                const SpendTiming& timing, TimePoint now) {
  if (!origin.external()) {
    b->window()->ApplyUpstreamUsed(used, timing, now);
    TouchLocked(b, now);
    return;
  }
  // Another team's header: the foreign use it shows counts until the cap at
  // the latest, apart from what agents' answers showed, and names the team.
  const TimePoint cap = ExternalCapLocked(*b, now);
  if (b->window()->ApplyExternalUsed(used, timing, cap, now) > 0) {
    b->restriction().NoteTightened(origin.caller, std::min(cap, timing.resp_hi + b->period()));
    TouchLocked(b, now);
  }
}

TimePoint Throttler::ExternalCapLocked(const Budget& budget, TimePoint now) const {
  const Duration announced = std::max(budget.family()->longest_announced, options_.backoff.base);
  return now + std::min(options_.external_restriction_cap, announced);
}

void Throttler::RestrictLocked(Budget* budget, TimePoint floor, const std::string& reason,
                               const ReportOrigin& origin, TimePoint now,
                               Revocations* revocations) {
  bool new_episode = false;
  TimePoint until;
  if (origin.external()) {
    until = budget->restriction().ImposeCapped(
        now, floor, ExternalCapLocked(*budget, now),
        absl::StrCat(reason, " (reported by ", origin.caller, ")"), origin.caller, options_.backoff,
        rng_, &new_episode);
  } else {
    // What the upstream announces through agents bounds what other callers
    // may impose on the family.
    BudgetFamily* family = budget->family();
    family->longest_announced = std::max(family->longest_announced, floor - now);
    until = budget->restriction().Impose(now, floor, reason, options_.backoff, rng_, &new_episode);
  }
  if (new_episode) {
    budget->counters().restrictions++;
    budget->family()->counters.restrictions++;
    LOG(WARNING) << "throttle: " << budget->name() << " restricted until " << FormatRfc3339(until)
                 << ": " << budget->restriction().reason();
  }
  restricted_.insert(budget);
  TouchLocked(budget, now);
  RevocationEvent event;
  event.budget = budget->name();
  event.until = until;
  event.reason = budget->restriction().reason();
  for (int64_t id : budget->leases()) {
    Lease* lease = leases_.Find(id);
    if (lease == nullptr || lease->revoked || lease->outstanding() <= 0) continue;
    lease->revoked = true;
    event.leases.emplace_back(lease->id, lease->holder);
  }
  revocations->push_back(std::move(event));
  Changed();
}

// ---------------------------------------------------------------------------
// Lease ends

void Throttler::CloseIfDoneLocked(Lease* lease) {
  if (lease->outstanding() <= 0) EraseLeaseLocked(lease);
}

void Throttler::ReleaseUnarmedLocked(Lease* lease, TimePoint now) {
  if (!lease->arming) return;
  // Arming stopped at expires_at and no call starts unarmed: at most
  // armed - observed calls can still be answered. The rest (never armed, or
  // armed and then returned: returns and observations only lower the count)
  // cannot have been made.
  const int64_t may_be_in_flight = std::max<int64_t>(0, lease->armed - lease->observed);
  const int64_t n = lease->outstanding() - std::min(lease->outstanding(), may_be_in_flight);
  if (n <= 0) return;
  for (const LeaseUse& use : lease->uses) {
    use.budget->Release(n, n * use.cost.reserve);
    RefundLocked(*lease, use, n * use.cost.reserve);
    use.budget->counters().unarmed += n;
    use.budget->family()->counters.unarmed += n;
    TouchLocked(use.budget, now);
  }
  lease->unarmed_released = n;
  CloseIfDoneLocked(lease);
  Changed();
}

void Throttler::LapseLocked(Lease* lease, TimePoint now) {
  const int64_t n = lease->outstanding();
  // Unreported calls may have been made until expiry and answered as late as
  // a call can take: charge them at worst, at the latest answer time, in the
  // budgets the route draws from as now known (reservations in groups it
  // turned out not to belong to are released).
  const SpendTiming timing{lease->granted_at, lease->expires_at + options_.max_request_duration};
  absl::StatusOr<ResolvedRoute*> resolved = ResolveLocked(lease->key);
  for (const LeaseUse& use : lease->uses) {
    if (resolved.ok() && !Contains((*resolved)->uses, use.budget)) {
      use.budget->Release(n, n * use.cost.reserve);
      RefundLocked(*lease, use, n * use.cost.reserve);
    } else {
      const int64_t worst = use.budget->is_error_limit() ? n : n * use.cost.reserve;
      use.budget->Settle(n, n * use.cost.reserve, worst, timing, now);
      use.budget->counters().lapsed += n;
      use.budget->family()->counters.lapsed += n;
    }
    TouchLocked(use.budget, now);
  }
  EraseLeaseLocked(lease);
  Changed();
}

void Throttler::ProcessDueLocked(TimePoint now) {
  // Expiries before lapses: a lease found both expired and lapsed lapses
  // with only what may have been sent.
  for (int64_t id : leases_.TakeExpired(now)) {
    if (Lease* lease = leases_.Find(id)) ReleaseUnarmedLocked(lease, now);
  }
  for (int64_t id : leases_.TakeLapsed(now)) {
    Lease* lease = leases_.Find(id);
    if (lease == nullptr) continue;
    if (lease->outstanding() > 0) {
      problems_.Report(absl::StrCat("lease of ", lease->holder, " on ", lease->key.Label(),
                                    " lapsed with unreported calls; charged as spent"));
      LapseLocked(lease, now);
    } else {
      EraseLeaseLocked(lease);
    }
  }
  if (now >= next_sweep_) {
    next_sweep_ = now + kSweepInterval;
    SweepIdleLocked(now, kSweepChecks);
  }
}

absl::Status Throttler::ReturnTokens(int64_t lease_id, int64_t unspent) {
  if (absl::Status s = CheckUnspent("unspent", unspent); !s.ok()) return s;
  std::lock_guard<DecisionMutex> lock(mu_);
  const TimePoint now = clock_->Now();
  ProcessDueLocked(now);
  Lease* lease = leases_.Find(lease_id);
  if (lease == nullptr) {
    return absl::NotFoundError(absl::StrCat("lease ", lease_id, " is closed or unknown"));
  }
  // The holder's unspent tokens include those released at expiry as never
  // armed: they count against those first. Only the rest lowers what the
  // lease still holds, so a late return never frees the reservation of an
  // armed call that may be in flight.
  const int64_t absorbed = std::min(unspent, lease->unarmed_released - lease->unarmed_returned);
  lease->unarmed_returned += absorbed;
  const int64_t k = std::min(unspent - absorbed, lease->outstanding());
  if (k <= 0) return absl::OkStatus();
  for (const LeaseUse& use : lease->uses) {
    if (lease->revoked && !use.budget->is_error_limit()) {
      // The holder may have raced the revocation: count them as spent (at a
      // 2xx's cost, answered now) for one window instead of crediting them.
      use.budget->Settle(k, k * use.cost.reserve, k * use.cost.admission,
                         SpendTiming{lease->granted_at, now}, now);
      RefundLocked(*lease, use, k * (use.cost.reserve - use.cost.admission));
    } else {
      use.budget->Release(k, k * use.cost.reserve);
      RefundLocked(*lease, use, k * use.cost.reserve);
    }
    TouchLocked(use.budget, now);
  }
  lease->returned += k;
  CloseIfDoneLocked(lease);
  Changed();
  return absl::OkStatus();
}

absl::Status Throttler::Report(const Observation& observation, const ReportOrigin& origin) {
  if (absl::Status s = ValidateCallKey(observation.key); !s.ok()) return s;
  if (absl::Status s = CheckStatus("status", observation.status); !s.ok()) return s;
  Revocations revocations;
  {
    std::lock_guard<DecisionMutex> lock(mu_);
    const TimePoint now = clock_->Now();
    ProcessDueLocked(now);
    ObserveLocked(observation, origin, now, &revocations);
  }
  Publish(revocations);
  return absl::OkStatus();
}

void Throttler::ReportBatch(const std::string& agent_id,
                            const std::vector<Observation>& observations,
                            const std::vector<TokenReturn>& returns) {
  Revocations revocations;
  {
    std::lock_guard<DecisionMutex> lock(mu_);
    const TimePoint now = clock_->Now();
    ProcessDueLocked(now);
    for (const Observation& o : observations) {
      absl::Status s = ValidateCallKey(o.key);
      if (s.ok()) s = CheckStatus("status", o.status);
      if (!s.ok()) {
        problems_.Report(absl::StrCat("observation from ", agent_id, ": ", s.message()));
        continue;
      }
      ObserveLocked(o, ReportOrigin{}, now, &revocations);
    }
  }
  for (const TokenReturn& r : returns) {
    absl::Status s = ReturnTokens(r.lease_id, r.unspent);
    if (!s.ok() && !absl::IsNotFound(s)) {
      problems_.Report(absl::StrCat("token return from ", agent_id, ": ", s.message()));
    }
  }
  Publish(revocations);
}

absl::StatusOr<ClearedRestriction> Throttler::ClearRestriction(const std::string& budget,
                                                               const std::string& by) {
  std::lock_guard<DecisionMutex> lock(mu_);
  const TimePoint now = clock_->Now();
  ProcessDueLocked(now);
  Budget* b = FindBudgetLocked(budget);
  if (b == nullptr) return absl::NotFoundError(absl::StrCat("no budget ", budget));
  ClearedRestriction out;
  out.was_restricted = b->restriction().Active(now);
  out.was_until = b->restriction().until();
  out.was_level = b->restriction().level();
  out.was_by = b->restriction().by();
  if (b->restriction().tightened_until() > now) {
    out.was_tightened_by = b->restriction().tightened_by();
  }
  b->restriction().Clear(now, by);
  // Other teams' headers' tightening goes with it; agents' stays.
  if (b->window() != nullptr) b->window()->ClearExternal();
  if (b->errors() != nullptr) b->errors()->ClearExternal();
  restricted_.erase(b);
  TouchLocked(b, now);
  Changed();
  LOG(WARNING) << "throttle: " << budget << " restriction cleared by " << by
               << (out.was_restricted
                       ? absl::StrCat(" (was until ", FormatRfc3339(out.was_until), ")")
                       : std::string(" (not restricted)"))
               << ", backoff level " << out.was_level << " reset";
  return out;
}

int Throttler::SeedEsiRoutes(const std::vector<EsiRouteSeed>& seeds) {
  std::lock_guard<DecisionMutex> lock(mu_);
  int changed = 0;
  for (const EsiRouteSeed& seed : seeds) {
    bool c = route_map_.SetEsiGroup(seed.route, seed.group);
    if (seed.limit.limit > 0 && seed.limit.period > Duration::zero()) {
      c |= route_map_.SetEsiGroupLimit(seed.group, seed.limit);
    }
    changed += c ? 1 : 0;
  }
  if (changed > 0) Changed();
  return changed;
}

// ---------------------------------------------------------------------------
// Listings and listeners

BudgetInfo Throttler::InfoLocked(Budget* b, TimePoint now) {
  BudgetInfo info;
  info.name = b->name();
  info.family = b->family()->name;
  info.scope = b->scope();
  info.kind = b->kind();
  info.learned = b->learned();
  info.observed = b->observed();
  info.window.limit = b->limit();
  info.window.period = b->period();
  info.window.remaining = std::max<int64_t>(0, b->AvailableUnits(now));
  info.window.penalty = b->penalty();
  info.restricted_until = b->restriction().until();
  info.restriction_reason = b->restriction().reason();
  info.restricted_by = b->restriction().by();
  info.restriction_capped = b->restriction().capped();
  info.restriction_cleared_by = b->restriction().cleared_by();
  info.restriction_cleared_at = b->restriction().cleared_at();
  if (b->restriction().tightened_until() > now) {
    info.tightened_by = b->restriction().tightened_by();
    info.tightened_until = b->restriction().tightened_until();
  }
  info.next_permitted =
      b->NextCallsTime(1, CostFor(b->kind()), options_.probe_calls, options_.retry_hint, now).at;
  info.counters = b->counters();
  info.outstanding_calls = b->in_flight_calls();
  info.outstanding_units = b->in_flight_units();
  info.routes.assign(b->family()->routes.begin(), b->family()->routes.end());
  return info;
}

std::vector<BudgetInfo> Throttler::ListBudgets() {
  std::lock_guard<DecisionMutex> lock(mu_);
  const TimePoint now = clock_->Now();
  ProcessDueLocked(now);
  std::vector<BudgetInfo> out;
  out.reserve(budgets_.size());
  for (auto& [name, b] : budgets_) out.push_back(InfoLocked(b.get(), now));
  std::sort(out.begin(), out.end(),
            [](const BudgetInfo& a, const BudgetInfo& b) { return a.name < b.name; });
  return out;
}

BudgetListing Throttler::ListBudgetFamilies(const BudgetQuery& query) {
  const size_t top = static_cast<size_t>(std::clamp(query.top, 0, 1000));
  // How constrained a budget is: restricted first, then by the share of its
  // limit left. Lower sorts first. A budget may be dropped once the lock is
  // released, so a kept one is kept as its BudgetInfo, not as a pointer.
  struct Ranked {
    bool restricted;
    double room;
    BudgetInfo info;
  };
  auto worse = [](const Ranked& a, const Ranked& b) {
    if (a.restricted != b.restricted) return a.restricted;
    if (a.room != b.room) return a.room < b.room;
    return a.info.name < b.info.name;
  };
  // Keeps the `limit` worst in a max-heap under `worse`; the info is made
  // only for a budget that gets in.
  auto keep = [&](std::vector<Ranked>* heap, size_t limit, bool restricted, double room, Budget* b,
                  TimePoint now) {
    if (limit == 0) return;
    if (heap->size() >= limit) {
      const Ranked& front = heap->front();
      const bool beats = restricted != front.restricted ? restricted
                         : room != front.room           ? room < front.room
                                                        : b->name() < front.info.name;
      if (!beats) return;
      std::pop_heap(heap->begin(), heap->end(), worse);
      heap->pop_back();
    }
    heap->push_back(Ranked{restricted, room, InfoLocked(b, now)});
    std::push_heap(heap->begin(), heap->end(), worse);
  };
  struct Acc {
    FamilyInfo info;
    std::vector<Ranked> worst;  // a max-heap of the `top` worst under `worse`
  };
  std::map<std::string, Acc> acc;
  // Families are never erased while serving (only Restore replaces them), so
  // their addresses identify them across chunks.
  std::unordered_map<const BudgetFamily*, Acc*> listed;
  std::vector<Ranked> matched;
  int64_t total = 0;
  {
    std::lock_guard<DecisionMutex> lock(mu_);
    ProcessDueLocked(clock_->Now());
    for (auto& [name, fam] : families_) {
      if (!query.match.empty() && !absl::StartsWith(name, query.match)) continue;
      Acc& a = acc[name];
      a.info.name = name;
      a.info.kind = fam.kind;
      a.info.counters = fam.counters;
      a.info.routes.assign(fam.routes.begin(), fam.routes.end());
      listed[&fam] = &a;
    }
  }
  WalkBudgets(
      kListChunk,
      [&](Budget* b, TimePoint now) {
        const bool restricted = b->restriction().Active(now);
        const int64_t available = b->AvailableUnits(now);
        const double room =
            b->limit() > 0 ? static_cast<double>(available) / static_cast<double>(b->limit()) : 0;
        auto family = listed.find(b->family());
        if (family != listed.end()) {
          Acc& a = *family->second;
          a.info.budgets++;
          if (restricted) a.info.restricted++;
          const bool exhausted = restricted || available < CostFor(b->kind()).admission;
          if (exhausted) a.info.exhausted++;
          auto [sc, first] = a.info.by_scope.try_emplace(std::string(ScopeClass(b->scope())));
          ScopeAggregate& agg = sc->second;
          if (first || available < agg.min_remaining) agg.min_remaining = available;
          if (first || room < agg.min_room) agg.min_room = room;
          agg.budgets++;
          if (restricted) agg.restricted++;
          if (exhausted) agg.exhausted++;
          agg.outstanding_calls += b->in_flight_calls();
          keep(&a.worst, top, restricted, room, b, now);
        }
        if (!query.match.empty() &&
            (absl::StartsWith(b->name(), query.match) || b->scope() == query.match)) {
          keep(&matched, kMaxMatched, restricted, room, b, now);
        }
      },
      [&](TimePoint) { total = static_cast<int64_t>(budgets_.size()); });
  BudgetListing out;
  out.total_budgets = total;
  for (auto& [name, a] : acc) {
    std::sort(a.worst.begin(), a.worst.end(), worse);
    for (Ranked& r : a.worst) a.info.most_constrained.push_back(std::move(r.info));
    out.families.push_back(std::move(a.info));
  }
  std::sort(matched.begin(), matched.end(), worse);
  for (Ranked& r : matched) out.budgets.push_back(std::move(r.info));
  return out;
}

std::vector<RevocationEvent> Throttler::ActiveRestrictions() {
  std::lock_guard<DecisionMutex> lock(mu_);
  const TimePoint now = clock_->Now();
  std::vector<RevocationEvent> out;
  for (auto it = restricted_.begin(); it != restricted_.end();) {
    Budget* b = *it;
    if (!b->restriction().Active(now)) {
      it = restricted_.erase(it);
      continue;
    }
    out.push_back(
        RevocationEvent{b->name(), {}, b->restriction().until(), b->restriction().reason()});
    ++it;
  }
  std::sort(out.begin(), out.end(),
            [](const RevocationEvent& a, const RevocationEvent& b) { return a.budget < b.budget; });
  return out;
}

size_t Throttler::budget_count() {
  std::lock_guard<DecisionMutex> lock(mu_);
  return budgets_.size();
}

int Throttler::AddRevocationListener(RevocationListener listener) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  int id = next_listener_id_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void Throttler::RemoveRevocationListener(int id) {
  std::lock_guard<std::mutex> lock(listeners_mu_);
  listeners_.erase(id);
}

void Throttler::Publish(const Revocations& revocations) {
  if (revocations.empty()) return;
  // Listeners run under listeners_mu_ (never under mu_): once
  // RemoveRevocationListener returns, the listener is not running and will
  // not run again, so its owner may be destroyed.
  std::lock_guard<std::mutex> lock(listeners_mu_);
  for (const RevocationEvent& event : revocations) {
    for (const auto& [id, listener] : listeners_) listener(event);
  }
}

}  // namespace sluice::throttle
