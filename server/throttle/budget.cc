#include "server/throttle/budget.h"

#include <algorithm>

namespace sluice::throttle {
namespace {

constexpr size_t kMaxRouteLabels = 64;

}  // namespace

absl::string_view BudgetKindName(BudgetKind kind) {
  switch (kind) {
    case BudgetKind::kEsiGroup:
      return "esi_group";
    case BudgetKind::kEsiRoute:
      return "esi_route";
    case BudgetKind::kEsiErrors:
      return "esi_errors";
    case BudgetKind::kPoeTier:
      return "poe_tier";
    case BudgetKind::kPoeRoute:
      return "poe_route";
    case BudgetKind::kEsiUngrouped:
      return "esi_ungrouped";
  }
  return "unknown";
}

std::optional<BudgetKind> ParseBudgetKind(absl::string_view name) {
  for (BudgetKind k : {BudgetKind::kEsiGroup, BudgetKind::kEsiRoute, BudgetKind::kEsiErrors,
                       BudgetKind::kPoeTier, BudgetKind::kPoeRoute, BudgetKind::kEsiUngrouped}) {
    if (BudgetKindName(k) == name) return k;
  }
  return std::nullopt;
}

void BudgetFamily::AddRoute(const std::string& label) {
  if (routes.size() < kMaxRouteLabels) routes.insert(label);
}

Budget::Budget(std::string name, BudgetFamily* family, std::string scope, BudgetKind kind,
               int64_t limit, Duration period, int64_t margin, Duration penalty, bool learned)
    : name_(std::move(name)),
      family_(family),
      scope_(std::move(scope)),
      kind_(kind),
      learned_(learned),
      window_(std::in_place, limit, period, margin),
      penalty_(penalty) {}

Budget::Budget(std::string name, BudgetFamily* family, std::string scope, int64_t default_limit,
               Duration window, int64_t margin)
    : name_(std::move(name)),
      family_(family),
      scope_(std::move(scope)),
      kind_(BudgetKind::kEsiErrors),
      errors_(std::in_place, default_limit, window, margin) {}

bool Budget::learned() const { return errors_ ? errors_->learned() : learned_; }

bool Budget::observed() const { return errors_ ? !errors_->probing() : observed_; }

void Budget::set_observed(bool observed) {
  if (errors_) {
    errors_->set_probing(!observed);
  } else {
    observed_ = observed;
  }
}

int64_t Budget::limit() const { return errors_ ? errors_->limit() : window_->limit(); }

Duration Budget::period() const { return errors_ ? errors_->window() : window_->period(); }

int64_t Budget::margin() const { return errors_ ? errors_->margin() : window_->margin(); }

int64_t Budget::in_flight_units() const {
  return errors_ ? errors_->in_flight() : window_->in_flight();
}

void Budget::Reserve(int64_t calls, int64_t units) {
  in_flight_calls_ += calls;
  if (errors_) {
    errors_->Reserve(units);
  } else {
    window_->Reserve(units);
  }
}

void Budget::Release(int64_t calls, int64_t units) {
  in_flight_calls_ = std::max<int64_t>(0, in_flight_calls_ - calls);
  if (errors_) {
    errors_->Release(units);
  } else {
    window_->Release(units);
  }
}

void Budget::Settle(int64_t calls, int64_t reserved_units, int64_t actual_units,
                    const SpendTiming& timing, TimePoint now) {
  in_flight_calls_ = std::max<int64_t>(0, in_flight_calls_ - calls);
  if (errors_) {
    errors_->Release(reserved_units);
    for (int64_t i = 0; i < actual_units; ++i) errors_->RecordError(timing, now);
  } else {
    window_->Settle(reserved_units, actual_units, timing);
  }
}

void Budget::Charge(int64_t actual_units, const SpendTiming& timing, TimePoint now) {
  if (errors_) {
    for (int64_t i = 0; i < actual_units; ++i) errors_->RecordError(timing, now);
  } else {
    window_->Charge(actual_units, timing);
  }
}

int64_t Budget::AvailableUnits(TimePoint now) {
  return errors_ ? errors_->Available(now) : window_->Available(now);
}

int64_t Budget::CallsAvailable(int64_t want, const CallCost& cost, int64_t probe_limit,
                               TimePoint now) {
  if (want <= 0 || restriction_.Active(now)) return 0;
  const int64_t available = AvailableUnits(now);
  if (available < cost.admission) return 0;
  int64_t calls = cost.reserve > 0 ? (available - cost.admission) / cost.reserve + 1 : want;
  if (!observed()) calls = std::min(calls, std::max<int64_t>(0, probe_limit - in_flight_calls_));
  return std::min(calls, want);
}

CallTime Budget::NextCallsTime(int64_t calls, const CallCost& cost, int64_t probe_limit,
                               Duration retry_hint, TimePoint now) {
  CallTime out{now, true};
  if (restriction_.Active(now)) out.at = restriction_.until();
  const int64_t units = cost.admission + std::max<int64_t>(0, calls - 1) * cost.reserve;
  std::optional<TimePoint> w =
      errors_ ? errors_->NextAvailable(units, now) : window_->NextAvailable(units, now);
  if (w) {
    out.at = std::max(out.at, *w);
  } else {
    out.at = std::max(out.at, now + retry_hint);
    out.firm = false;
  }
  if (!observed() && in_flight_calls_ + calls > probe_limit) {
    out.at = std::max(out.at, now + retry_hint);
    out.firm = false;
  }
  return out;
}

TimePoint Budget::EarliestCallsTime(int64_t calls, const CallCost& cost, TimePoint now) {
  TimePoint at = restriction_.Active(now) ? restriction_.until() : now;
  const int64_t units = cost.admission + std::max<int64_t>(0, calls - 1) * cost.reserve;
  std::optional<TimePoint> w =
      errors_ ? errors_->EarliestAvailable(units, now) : window_->EarliestAvailable(units, now);
  if (w) at = std::max(at, *w);
  return at;
}

bool Budget::Idle(TimePoint now) {
  // The error limit of an address is kept: there are few, and its window
  // state is worth more than its memory.
  if (errors_) return false;
  return in_flight_calls_ == 0 && leases_.empty() && !restriction_.Active(now) &&
         restriction_.level() == 0 && window_->Used(now) == 0;
}

}  // namespace sluice::throttle
