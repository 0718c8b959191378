#include "server/throttle/throttler.h"

#include <glog/logging.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/time_util.h"

namespace sluice::throttle {
namespace {

constexpr int kMaxCallsPerRequest = 1000;

bool IsSuccess(int status) { return status >= 200 && status < 400; }
// ESI counts 4xx/5xx against the error limit; a transport failure may have
// been a 5xx at the edge, so it counts too (the conservative reading).
bool IsEsiError(int status) { return status == 0 || status >= 400; }
// A response that shows the upstream's real state for this call shape (not
// a throttling answer nor a transport failure): ends probe mode.
bool ShowsUpstreamState(int status) {
  return status >= 200 && status < 500 && status != 420 && status != 429;
}

int64_t FirstLeaseId(TimePoint now) {
  // Millisecond start time in the high bits: ids of a restarted coordinator
  // never collide with leases agents may still hold from the previous one.
  int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  return std::max<int64_t>(1, ms) << 12;
}

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

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

absl::Status ValidateStatus(int status) {
  if (status < 0 || status > 999) {
    return absl::InvalidArgumentError("status must be 0 (transport failure) or an HTTP status");
  }
  return absl::OkStatus();
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

Throttler::Throttler(const Clock* clock, ThrottlerOptions options)
    : clock_(clock),
      options_(std::move(options)),
      route_map_(RouteMapDefaults{options_.esi_default, options_.poe_default,
                                  options_.esi_error_limit_default, options_.esi_error_window}),
      leases_(FirstLeaseId(clock->Now())),
      permanent_(options_.permanent),
      rng_(options_.seed != 0 ? options_.seed : std::random_device{}()) {}

// ---------------------------------------------------------------------------
// Costs and resolution

CallCost Throttler::CostFor(BudgetKind kind) const {
  switch (kind) {
    case BudgetKind::kEsiGroup:
    case BudgetKind::kEsiRoute: {
      CallCost c;
      c.reserve = options_.esi_reserve_cost > 0 ? options_.esi_reserve_cost : options_.esi_costs.Max();
      c.admission =
          options_.esi_admission_cost > 0 ? options_.esi_admission_cost : options_.esi_costs.status_2xx;
      return c;
    }
    case BudgetKind::kEsiErrors:
      return CallCost{std::max(0, options_.esi_error_reserve_per_call), 1};
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

absl::StatusOr<Budget*> Throttler::BudgetForSpecLocked(const BudgetSpec& spec) {
  if (Budget* b = FindBudgetLocked(spec.name)) {
    // Learned limits changed since the budget was made (or it was made from
    // a default before the limit header parsed): adopt them.
    if (spec.learned && b->window() != nullptr &&
        (!b->learned() || b->limit() != spec.limit.limit || b->period() != spec.limit.period ||
         b->penalty() != spec.penalty)) {
      b->window()->SetLimits(spec.limit.limit, spec.limit.period, MarginFor(spec.limit.limit));
      b->set_learned(true);
      b->set_penalty(spec.penalty);
      Changed();
    }
    return b;
  }
  if (budgets_.size() >= options_.max_budgets) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many budgets (", options_.max_budgets, "); not creating ", spec.name));
  }
  std::unique_ptr<Budget> b;
  if (spec.kind == BudgetKind::kEsiErrors) {
    b = std::make_unique<Budget>(spec.name, spec.limit.limit, spec.limit.period,
                                 MarginFor(spec.limit.limit));
  } else {
    b = std::make_unique<Budget>(spec.name, spec.kind, spec.limit.limit, spec.limit.period,
                                 MarginFor(spec.limit.limit), spec.penalty, spec.learned);
  }
  Budget* raw = b.get();
  budgets_.emplace(spec.name, std::move(b));
  Changed();
  return raw;
}

absl::StatusOr<Throttler::ResolvedRoute*> Throttler::ResolveLocked(const CallKey& key) {
  scratch_key_.clear();
  scratch_key_.append(UpstreamName(key.upstream));
  scratch_key_.push_back('\x1f');
  scratch_key_.append(key.route);
  if (key.upstream == Upstream::kPoe) {
    scratch_key_.push_back('\x1f');
    scratch_key_.append(key.egress);
  }
  auto it = routes_.find(scratch_key_);
  if (it != routes_.end() && it->second.generation == route_map_.generation()) {
    return &it->second;
  }
  if (it == routes_.end() && routes_.size() >= options_.max_routes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many distinct routes (", options_.max_routes, ")"));
  }
  ResolvedRoute resolved;
  resolved.generation = route_map_.generation();
  resolved.label = key.Label();
  for (const BudgetSpec& spec : route_map_.Resolve(key)) {
    absl::StatusOr<Budget*> b = BudgetForSpecLocked(spec);
    if (!b.ok()) return b.status();
    (*b)->AddRoute(resolved.label);
    resolved.uses.push_back(LeaseUse{*b, CostFor((*b)->kind())});
  }
  ResolvedRoute& slot = routes_[scratch_key_];
  slot = std::move(resolved);
  return &slot;
}

// ---------------------------------------------------------------------------
// Decisions

int64_t Throttler::GrantableLocked(const std::vector<LeaseUse>& uses, int64_t want, TimePoint now,
                                   Budget** limiting) {
  int64_t grant = want;
  *limiting = nullptr;
  for (const LeaseUse& use : uses) {
    int64_t c = use.budget->CallsAvailable(want, use.cost, options_.probe_calls, now);
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
                              int64_t calls, TimePoint usable_from, TimePoint now) {
  Lease lease;
  lease.holder = holder;
  lease.key = key;
  lease.uses = route->uses;
  lease.granted = calls;
  lease.granted_at = now;
  lease.usable_from = usable_from;
  lease.expires_at = usable_from + options_.lease_ttl;
  lease.lapse_at = lease.expires_at + options_.max_request_duration + options_.report_grace;
  for (const LeaseUse& use : lease.uses) {
    use.budget->Reserve(calls, calls * use.cost.reserve);
    use.budget->counters().granted += calls;
  }
  Changed();
  return leases_.Create(std::move(lease));
}

absl::StatusOr<PermitTime> Throttler::NextPermitted(const CallKey& key, int n) {
  if (absl::Status s = ValidateCallKey(key); !s.ok()) return s;
  if (n < 1 || n > kMaxCallsPerRequest) {
    return absl::InvalidArgumentError(absl::StrCat("n must be between 1 and ", kMaxCallsPerRequest));
  }
  std::lock_guard<std::mutex> lock(mu_);
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
  if (n < 1 || n > kMaxCallsPerRequest) {
    return absl::InvalidArgumentError(absl::StrCat("n must be between 1 and ", kMaxCallsPerRequest));
  }
  if (max_wait < Duration::zero() || max_wait > options_.max_acquire_wait) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_wait must be between 0 and ", Seconds(options_.max_acquire_wait), "s"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  const TimePoint now = clock_->Now();
  ProcessDueLocked(now);
  absl::StatusOr<ResolvedRoute*> route = ResolveLocked(key);
  if (!route.ok()) return route.status();
  if (absl::Status s = CheckCapacityLocked((*route)->uses, n); !s.ok()) return s;

  AcquireResult out;
  Budget* limiting = nullptr;
  if (GrantableLocked((*route)->uses, n, now, &limiting) >= n) {
    out.at = now;
  } else {
    bool firm = true;
    out.at = NextTimeLocked((*route)->uses, n, now, &limiting, &firm);
    if (out.at <= now) out.at = now + options_.retry_hint;  // defensive: never "now" on refusal
    if (!firm || out.at > now + max_wait) {
      if (limiting != nullptr) {
        limiting->counters().denied++;
        out.limiting_budget = limiting->name();
      }
      out.wait = out.at - now;
      Changed();
      return out;
    }
    // Reserving now for a later time is safe: the reservation counts from
    // now on, and by out.at the window has room for it by construction.
    if (limiting != nullptr) limiting->counters().waits++;
  }
  Lease* lease = GrantLocked(key, caller, *route, n, out.at, now);
  out.granted = true;
  out.wait = out.at - now;
  out.lease_id = lease->id;
  out.expires_at = lease->expires_at;
  if (limiting != nullptr) out.limiting_budget = limiting->name();
  return out;
}

absl::StatusOr<LeaseGrant> Throttler::LeaseTokens(const std::string& agent_id, const CallKey& key,
                                                  int count) {
  if (absl::Status s = ValidateCallKey(key); !s.ok()) return s;
  if (count < 1 || count > kMaxCallsPerRequest) {
    return absl::InvalidArgumentError(
        absl::StrCat("count must be between 1 and ", kMaxCallsPerRequest));
  }
  std::lock_guard<std::mutex> lock(mu_);
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
  const int64_t grant = GrantableLocked((*route)->uses, want, now, &limiting);
  if (limiting != nullptr) out.limiting_budget = limiting->name();
  if (grant > 0) {
    Lease* lease = GrantLocked(key, agent_id, *route, grant, now, now);
    out.lease_id = lease->id;
    out.granted = grant;
    out.expires_at = lease->expires_at;
    out.ttl = options_.lease_ttl;
    return out;
  }
  bool firm = true;
  out.retry_at = NextTimeLocked((*route)->uses, 1, now, &limiting, &firm);
  if (out.retry_at <= now) out.retry_at = now + options_.retry_hint;
  if (limiting != nullptr && out.retry_at > now + options_.retry_hint &&
      !limiting->restriction().Active(now) && limiting->in_flight_units() > 0) {
    // Calls in flight usually settle below their reservation (a 2xx costs 2
    // of the 5 reserved) or come back unspent: room may free up long before
    // the window returns anything. Ask again soon rather than oversleep.
    out.retry_at = now + options_.retry_hint;
  }
  if (limiting != nullptr) {
    out.limiting_budget = limiting->name();
    limiting->counters().denied++;
  }
  Changed();
  return out;
}

// ---------------------------------------------------------------------------
// Observations

SpendTiming Throttler::TimingLocked(const Observation& o, const Lease* lease, TimePoint now) const {
  // The call cannot have been answered before its lease was granted, nor
  // after the report arrived.
  const TimePoint floor = lease != nullptr
                              ? lease->granted_at
                              : now - (options_.lease_ttl + options_.max_request_duration +
                                       options_.report_grace);
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

bool Throttler::LearnLocked(const CallKey& key, const ParsedHeaders& h) {
  bool changed = false;
  if (key.upstream == Upstream::kEsi && h.esi_group) {
    changed |= route_map_.SetEsiGroup(key.route, h.esi_group->group);
    if (h.esi_group->limit && h.esi_group->window) {
      changed |= route_map_.SetEsiGroupLimit(h.esi_group->group,
                                             WindowLimit{*h.esi_group->limit, *h.esi_group->window});
    }
  }
  if (key.upstream == Upstream::kPoe && h.poe) {
    changed |= route_map_.SetPoePolicy(key.route, h.poe->policy);
    if (h.poe->complete) {
      std::vector<PoeRuleShape> shapes;
      for (const PoeRule& rule : h.poe->rules) {
        PoeRuleShape shape;
        shape.name = rule.name;
        shape.lower = absl::AsciiStrToLower(rule.name);
        for (const PoeTier& t : rule.tiers) {
          shape.tiers.push_back(PoeTierShape{
              WindowLimit{t.hits, std::chrono::seconds(t.period_seconds)},
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

void Throttler::RechargeLeasesLocked() {
  // Calls already leased under the old mapping will be spent against the new
  // budgets too: reserve them there before anyone else is granted.
  leases_.ForEach([this](Lease& lease) {
    const int64_t n = lease.outstanding();
    if (n <= 0) return;
    absl::StatusOr<ResolvedRoute*> route = ResolveLocked(lease.key);
    if (!route.ok()) return;
    for (const LeaseUse& use : (*route)->uses) {
      if (lease.Uses(use.budget)) continue;
      use.budget->Reserve(n, n * use.cost.reserve);
      lease.uses.push_back(use);
    }
  });
}

void Throttler::SettleUseLocked(const LeaseUse& use, int status, const SpendTiming& timing,
                                TimePoint now) {
  use.budget->Settle(1, use.cost.reserve, ActualUnits(*use.budget, status), timing, now);
}

void Throttler::ChargeUseLocked(const LeaseUse& use, int status, const SpendTiming& timing,
                                TimePoint now) {
  use.budget->Charge(ActualUnits(*use.budget, status), timing, now);
}

bool Throttler::ObserveLocked(const Observation& o, TimePoint now, Revocations* revocations) {
  const ParsedHeaders headers = ParseRateLimitHeaders(o.key.upstream, o.headers, now);
  for (const std::string& p : headers.problems) problems_.Report(p);

  Lease* lease = o.lease_id != 0 ? leases_.Find(o.lease_id) : nullptr;
  if (lease != nullptr &&
      (lease->key.upstream != o.key.upstream || lease->key.route != o.key.route)) {
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

  if (LearnLocked(o.key, headers)) RechargeLeasesLocked();
  absl::StatusOr<ResolvedRoute*> resolved = ResolveLocked(o.key);

  // Settle the call: against its lease's reservations, and charge budgets the
  // lease did not reserve in (learned from this very response).
  if (lease != nullptr) {
    for (const LeaseUse& use : lease->uses) SettleUseLocked(use, o.status, timing, now);
  }
  if (resolved.ok()) {
    for (const LeaseUse& use : (*resolved)->uses) {
      if (lease == nullptr || !lease->Uses(use.budget)) ChargeUseLocked(use, o.status, timing, now);
      if (ShowsUpstreamState(o.status) && use.budget->window() != nullptr) {
        use.budget->set_observed(true);
      }
    }
  } else {
    problems_.Report(absl::StrCat("cannot resolve ", o.key.Label(), ": ",
                                  resolved.status().message()));
  }
  if (lease != nullptr) {
    lease->observed++;
    CloseIfDoneLocked(lease);
  }

  if (resolved.ok()) {
    CorrectLocked(o, headers, **resolved, timing, now, revocations);
    if (IsSuccess(o.status)) {
      for (const LeaseUse& use : (*resolved)->uses) use.budget->restriction().OnSuccess();
    }
  }
  Changed();

  if (o.request_key.empty()) return false;
  return permanent_.Record(
      absl::StrCat(UpstreamName(o.key.upstream), "\x1f", o.key.route, "\x1f", o.request_key),
      o.status, now);
}

void Throttler::CorrectLocked(const Observation& o, const ParsedHeaders& h,
                              const ResolvedRoute& route, const SpendTiming& timing, TimePoint now,
                              Revocations* revocations) {
  const Duration retry_after = h.retry_after.value_or(Duration::zero());
  if (o.key.upstream == Upstream::kEsi) {
    Budget* group = nullptr;
    if (h.esi_group) {
      group = FindBudgetLocked(EsiGroupBudgetName(h.esi_group->group));
      if (group != nullptr && group->window() != nullptr &&
          (h.esi_group->remaining || h.esi_group->used)) {
        const int64_t limit = h.esi_group->limit.value_or(group->limit());
        int64_t used = std::numeric_limits<int64_t>::min();
        if (h.esi_group->used) used = *h.esi_group->used;
        if (h.esi_group->remaining) used = std::max(used, limit - *h.esi_group->remaining);
        group->window()->ApplyUpstreamUsed(used, timing, now);
      }
    }
    Budget* errors = FindBudgetLocked(kEsiErrorsBudget);
    if (errors != nullptr && h.esi_error) {
      errors->errors()->ApplyHeader(h.esi_error->remain, h.esi_error->reset_seconds, timing,
                                    IsEsiError(o.status), now);
      errors->errors()->set_margin(MarginFor(errors->limit()));
    }
    if (o.status == 420 && errors != nullptr) {
      std::optional<int64_t> reset = h.esi_error ? h.esi_error->reset_seconds : std::nullopt;
      TimePoint end = errors->errors()->Exhaust(reset, now);
      RestrictLocked(errors, std::max(end, now + retry_after),
                     absl::StrCat("420 on ", route.label, ": ESI error limit exhausted"), now,
                     revocations);
    }
    if (o.status == 429) {
      const std::string reason = absl::StrCat("429 on ", route.label);
      if (group != nullptr) {
        RestrictLocked(group, now + retry_after, reason, now, revocations);
      } else {
        // No group header (ESI sends some bare 429s): block the route's
        // own budget, whatever it currently is.
        for (const LeaseUse& use : route.uses) {
          if (!use.budget->is_error_limit()) {
            RestrictLocked(use.budget, now + retry_after, reason, now, revocations);
          }
        }
      }
    }
    return;
  }

  bool restricted = false;
  if (h.poe) {
    for (const PoeRule& rule : h.poe->rules) {
      if (!rule.state) continue;
      const std::string lower = absl::AsciiStrToLower(rule.name);
      const bool per_ip = lower == "ip";
      for (size_t i = 0; i < rule.state->size(); ++i) {
        const PoeTierState& st = (*rule.state)[i];
        Budget* b = FindBudgetLocked(PoeTierBudgetName(h.poe->policy, lower, per_ip, o.key.egress, i));
        if (b == nullptr || b->window() == nullptr) continue;
        if (b->period() != std::chrono::seconds(st.period_seconds)) {
          problems_.Report(absl::StrCat("X-Rate-Limit-", rule.name, "-State tier ", i, " period ",
                                        st.period_seconds, "s does not match ", b->name()));
          continue;
        }
        b->window()->ApplyUpstreamUsed(st.hits, timing, now);
        if (st.active_restriction_seconds > 0) {
          RestrictLocked(b,
                         std::max(now + std::chrono::seconds(st.active_restriction_seconds),
                                  now + retry_after),
                         absl::StrCat("PoE ", h.poe->policy, " ", rule.name, " tier ", i,
                                      " restricted (", o.status, " on ", route.label, ")"),
                         now, revocations);
          restricted = true;
        }
      }
    }
  }
  if (o.status == 429 && !restricted) {
    for (const LeaseUse& use : route.uses) {
      RestrictLocked(use.budget, now + retry_after, absl::StrCat("429 on ", route.label), now,
                     revocations);
    }
  }
}

void Throttler::RestrictLocked(Budget* budget, TimePoint floor, const std::string& reason,
                               TimePoint now, Revocations* revocations) {
  bool new_episode = false;
  const TimePoint until =
      budget->restriction().Impose(now, floor, reason, options_.backoff, rng_, &new_episode);
  if (new_episode) {
    budget->counters().restrictions++;
    LOG(WARNING) << "throttle: " << budget->name() << " restricted until " << FormatRfc3339(until)
                 << ": " << reason;
  }
  RevocationEvent event;
  event.budget = budget->name();
  event.until = until;
  event.reason = reason;
  leases_.ForEach([&](Lease& lease) {
    if (lease.revoked || lease.outstanding() <= 0 || !lease.Uses(budget)) return;
    lease.revoked = true;
    event.leases.emplace_back(lease.id, lease.holder);
  });
  revocations->push_back(std::move(event));
  Changed();
}

// ---------------------------------------------------------------------------
// Lease ends

void Throttler::CloseIfDoneLocked(Lease* lease) {
  if (lease->outstanding() <= 0) leases_.Erase(lease->id);
}

void Throttler::LapseLocked(Lease* lease, TimePoint now) {
  const int64_t n = lease->outstanding();
  // Unreported calls may have been made until expiry and answered as late as
  // a call can take: charge them at worst, at the latest answer time.
  const SpendTiming timing{lease->granted_at, lease->expires_at + options_.max_request_duration};
  for (const LeaseUse& use : lease->uses) {
    const int64_t worst = use.budget->is_error_limit() ? n : n * use.cost.reserve;
    use.budget->Settle(n, n * use.cost.reserve, worst, timing, now);
  }
  leases_.Erase(lease->id);
  Changed();
}

void Throttler::ProcessDueLocked(TimePoint now) {
  for (int64_t id : leases_.TakeLapsed(now)) {
    Lease* lease = leases_.Find(id);
    if (lease == nullptr) continue;
    if (lease->outstanding() > 0) {
      problems_.Report(absl::StrCat("lease of ", lease->holder, " on ", lease->key.Label(),
                                    " lapsed with unreported calls; charged as spent"));
      LapseLocked(lease, now);
    } else {
      leases_.Erase(id);
    }
  }
}

absl::Status Throttler::ReturnTokens(int64_t lease_id, int64_t unspent) {
  if (unspent < 0) return absl::InvalidArgumentError("unspent must be >= 0");
  std::lock_guard<std::mutex> lock(mu_);
  const TimePoint now = clock_->Now();
  ProcessDueLocked(now);
  Lease* lease = leases_.Find(lease_id);
  if (lease == nullptr) {
    return absl::NotFoundError(absl::StrCat("lease ", lease_id, " is closed or unknown"));
  }
  const int64_t k = std::min(unspent, lease->outstanding());
  if (k <= 0) return absl::OkStatus();
  for (const LeaseUse& use : lease->uses) {
    if (lease->revoked && !use.budget->is_error_limit()) {
      // The holder may have raced the revocation: count them as spent (at a
      // 2xx's cost, answered now) for one window instead of crediting them.
      use.budget->Settle(k, k * use.cost.reserve, k * use.cost.admission,
                         SpendTiming{lease->granted_at, now}, now);
    } else {
      use.budget->Release(k, k * use.cost.reserve);
    }
  }
  lease->returned += k;
  CloseIfDoneLocked(lease);
  Changed();
  return absl::OkStatus();
}

absl::StatusOr<bool> Throttler::Report(const Observation& observation) {
  if (absl::Status s = ValidateCallKey(observation.key); !s.ok()) return s;
  if (absl::Status s = ValidateStatus(observation.status); !s.ok()) return s;
  Revocations revocations;
  bool permanent = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const TimePoint now = clock_->Now();
    ProcessDueLocked(now);
    permanent = ObserveLocked(observation, now, &revocations);
  }
  Publish(revocations);
  return permanent;
}

std::vector<std::string> Throttler::ReportBatch(const std::string& agent_id,
                                                const std::vector<Observation>& observations,
                                                const std::vector<TokenReturn>& returns) {
  std::vector<std::string> permanent;
  Revocations revocations;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const TimePoint now = clock_->Now();
    ProcessDueLocked(now);
    for (const Observation& o : observations) {
      absl::Status s = ValidateCallKey(o.key);
      if (s.ok()) s = ValidateStatus(o.status);
      if (!s.ok()) {
        problems_.Report(absl::StrCat("observation from ", agent_id, ": ", s.message()));
        continue;
      }
      if (ObserveLocked(o, now, &revocations)) permanent.push_back(o.request_key);
    }
  }
  for (const TokenReturn& r : returns) {
    absl::Status s = ReturnTokens(r.lease_id, r.unspent);
    if (!s.ok() && !absl::IsNotFound(s)) {
      problems_.Report(absl::StrCat("token return from ", agent_id, ": ", s.message()));
    }
  }
  Publish(revocations);
  return permanent;
}

// ---------------------------------------------------------------------------
// Listings and listeners

std::vector<BudgetInfo> Throttler::ListBudgets() {
  std::lock_guard<std::mutex> lock(mu_);
  const TimePoint now = clock_->Now();
  ProcessDueLocked(now);
  std::vector<BudgetInfo> out;
  out.reserve(budgets_.size());
  for (auto& [name, b] : budgets_) {
    BudgetInfo info;
    info.name = name;
    info.kind = b->kind();
    info.learned = b->learned();
    info.observed = b->observed();
    info.window.limit = b->limit();
    info.window.period = b->period();
    info.window.remaining = std::max<int64_t>(0, b->AvailableUnits(now));
    info.window.penalty = b->penalty();
    info.restricted_until = b->restriction().until();
    info.restriction_reason = b->restriction().reason();
    info.next_permitted =
        b->NextCallsTime(1, CostFor(b->kind()), options_.probe_calls, options_.retry_hint, now).at;
    info.counters = b->counters();
    info.outstanding_calls = b->in_flight_calls();
    info.outstanding_units = b->in_flight_units();
    info.routes.assign(b->routes().begin(), b->routes().end());
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(),
            [](const BudgetInfo& a, const BudgetInfo& b) { return a.name < b.name; });
  return out;
}

std::vector<RevocationEvent> Throttler::ActiveRestrictions() {
  std::lock_guard<std::mutex> lock(mu_);
  const TimePoint now = clock_->Now();
  std::vector<RevocationEvent> out;
  for (auto& [name, b] : budgets_) {
    if (!b->restriction().Active(now)) continue;
    out.push_back(RevocationEvent{name, {}, b->restriction().until(), b->restriction().reason()});
  }
  return out;
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

// ---------------------------------------------------------------------------
// Persistence

ThrottleSnapshot Throttler::Snapshot(bool clean_shutdown) {
  std::lock_guard<std::mutex> lock(mu_);
  const TimePoint now = clock_->Now();
  ProcessDueLocked(now);
  // The latest answer time of each budget's open reservations.
  std::unordered_map<const Budget*, TimePoint> in_flight_resp_hi;
  leases_.ForEach([&](Lease& lease) {
    if (lease.outstanding() <= 0) return;
    const TimePoint latest = lease.expires_at + options_.max_request_duration;
    for (const LeaseUse& use : lease.uses) {
      TimePoint& t = in_flight_resp_hi[use.budget];
      t = std::max(t, latest);
    }
  });

  ThrottleSnapshot s;
  s.written_at = PersistTime(now);
  s.clean_shutdown = clean_shutdown;
  for (auto& [name, b] : budgets_) {
    BudgetState st;
    st.name = name;
    st.kind = std::string(BudgetKindName(b->kind()));
    st.learned = b->learned();
    st.observed = b->observed();
    st.limit = b->limit();
    st.period_seconds = Seconds(b->period());
    st.penalty_seconds = Seconds(b->penalty());
    if (const FloatingWindow* w = b->window()) {
      for (const FloatingWindow::Bucket& bucket : w->ledger()) {
        st.ledger.push_back(LedgerBucketState{PersistTime(bucket.first_resp),
                                              PersistTime(bucket.resp_hi),
                                              PersistTime(bucket.sent_lo), bucket.units});
      }
      for (const FloatingWindow::Step& step : w->phantom()) {
        st.phantom.push_back(PhantomStepState{PersistTime(step.until), step.amount});
      }
    }
    if (const ErrorWindow* e = b->errors()) {
      st.remain = e->remain();
      if (e->window_end()) st.window_end = PersistTime(*e->window_end());
      st.probing = e->probing();
      for (const SpendTiming& t : e->recent_errors()) {
        st.recent_errors.push_back(ErrorTimingState{PersistTime(t.sent_lo), PersistTime(t.resp_hi)});
      }
    }
    st.in_flight_units = b->in_flight_units();
    st.in_flight_calls = b->in_flight_calls();
    auto it = in_flight_resp_hi.find(b.get());
    st.in_flight_resp_hi = PersistTime(
        it != in_flight_resp_hi.end() ? it->second
                                      : now + options_.lease_ttl + options_.max_request_duration);
    st.restricted_until = PersistTime(b->restriction().until());
    st.restriction_level = b->restriction().level();
    st.restriction_reason = b->restriction().reason();
    st.granted = b->counters().granted;
    st.denied = b->counters().denied;
    st.waits = b->counters().waits;
    st.restrictions = b->counters().restrictions;
    s.budgets.push_back(std::move(st));
  }
  std::sort(s.budgets.begin(), s.budgets.end(),
            [](const BudgetState& a, const BudgetState& b) { return a.name < b.name; });
  for (const auto& [route, group] : route_map_.esi_routes()) s.esi_routes.push_back({route, group});
  for (const auto& [group, limit] : route_map_.esi_groups()) {
    s.esi_groups.push_back(EsiGroupState{group, limit.limit, Seconds(limit.period)});
  }
  for (const auto& [route, policy] : route_map_.poe_routes()) s.poe_routes.push_back({route, policy});
  for (const auto& [policy, rules] : route_map_.poe_policies()) {
    PoePolicyState ps;
    ps.name = policy;
    for (const PoeRuleShape& rule : rules) {
      PoeRuleShapeState rs;
      rs.name = rule.name;
      for (const PoeTierShape& tier : rule.tiers) {
        rs.tiers.push_back(PoeTierShapeState{tier.limit.limit, Seconds(tier.limit.period),
                                             Seconds(tier.penalty)});
      }
      ps.rules.push_back(std::move(rs));
    }
    s.poe_policies.push_back(std::move(ps));
  }
  return s;
}

absl::Status Throttler::Restore(const ThrottleSnapshot& s) {
  std::lock_guard<std::mutex> lock(mu_);
  const TimePoint now = clock_->Now();
  RouteMap map(route_map_.defaults());
  for (const RouteMappingState& m : s.esi_routes) map.SetEsiGroup(m.route, m.target);
  for (const EsiGroupState& g : s.esi_groups) {
    map.SetEsiGroupLimit(g.name, WindowLimit{g.limit, FromSeconds(g.period_seconds)});
  }
  for (const RouteMappingState& m : s.poe_routes) map.SetPoePolicy(m.route, m.target);
  for (const PoePolicyState& p : s.poe_policies) {
    std::vector<PoeRuleShape> rules;
    for (const PoeRuleShapeState& r : p.rules) {
      PoeRuleShape shape;
      shape.name = r.name;
      shape.lower = absl::AsciiStrToLower(r.name);
      for (const PoeTierShapeState& t : r.tiers) {
        shape.tiers.push_back(
            PoeTierShape{WindowLimit{t.hits, FromSeconds(t.period_seconds)}, FromSeconds(t.penalty_seconds)});
      }
      rules.push_back(std::move(shape));
    }
    map.SetPoeRules(p.name, std::move(rules));
  }

  std::unordered_map<std::string, std::unique_ptr<Budget>> budgets;
  for (const BudgetState& st : s.budgets) {
    std::optional<BudgetKind> kind = ParseBudgetKind(st.kind);
    if (!kind || st.limit <= 0 || st.period_seconds <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("throttle state: bad budget ", st.name));
    }
    const Duration period = FromSeconds(st.period_seconds);
    std::unique_ptr<Budget> b;
    // Reservations open at snapshot time may still be spent: restore them as
    // calls answered at the latest possible time.
    const SpendTiming in_flight{RestoreTime(s.written_at), RestoreTime(st.in_flight_resp_hi)};
    if (*kind == BudgetKind::kEsiErrors) {
      b = std::make_unique<Budget>(st.name, st.limit, period, MarginFor(st.limit));
      std::deque<SpendTiming> recent;
      for (const ErrorTimingState& e : st.recent_errors) {
        recent.push_back(SpendTiming{RestoreTime(e.sent_lo), RestoreTime(e.resp_hi)});
      }
      std::optional<TimePoint> end;
      if (st.window_end) end = RestoreTime(*st.window_end);
      b->errors()->Restore(st.limit, st.learned, st.remain, end,
                           st.probing || !s.clean_shutdown, std::move(recent));
      b->Charge(st.in_flight_calls, in_flight, now);  // worst case: every one errored
    } else {
      b = std::make_unique<Budget>(st.name, *kind, st.limit, period, MarginFor(st.limit),
                                   FromSeconds(st.penalty_seconds), st.learned);
      std::vector<FloatingWindow::Bucket> ledger;
      for (const LedgerBucketState& l : st.ledger) {
        ledger.push_back(FloatingWindow::Bucket{RestoreTime(l.first_resp), RestoreTime(l.resp_hi),
                                                RestoreTime(l.sent_lo), l.units});
      }
      std::vector<FloatingWindow::Step> phantom;
      for (const PhantomStepState& p : st.phantom) {
        phantom.push_back(FloatingWindow::Step{RestoreTime(p.until), p.amount});
      }
      b->window()->RestoreLedger(std::move(ledger), std::move(phantom));
      b->Charge(st.in_flight_units, in_flight, now);
      // After a crash, grants made since the last snapshot are unknown: probe
      // until the upstream's headers show the real state.
      b->set_observed(st.observed && s.clean_shutdown);
    }
    b->restriction().Restore(RestoreTime(st.restricted_until), st.restriction_level,
                             st.restriction_reason);
    b->counters() = BudgetCounters{st.granted, st.denied, st.waits, st.restrictions};
    budgets.emplace(st.name, std::move(b));
  }
  route_map_ = std::move(map);
  budgets_ = std::move(budgets);
  routes_.clear();
  leases_ = LeaseTable(FirstLeaseId(now));
  Changed();
  LOG(INFO) << "throttle: restored " << budgets_.size() << " budgets from a snapshot of "
            << FormatRfc3339(RestoreTime(s.written_at))
            << (s.clean_shutdown ? " (clean shutdown)" : " (not clean: budgets probe first)");
  return absl::OkStatus();
}

}  // namespace sluice::throttle
