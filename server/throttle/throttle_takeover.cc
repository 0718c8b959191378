// The Throttler's settling of a takeover's error-limit charge: who may hold
// calls that reserve an ESI error limit (named in every meta row, granted
// only once named), and the confirmations that end the charge early
// (throttler.h, "Settling a takeover's error-limit charge"; README,
// "Persistence"). Kept apart from the decisions in throttler.cc.
#include <glog/logging.h>

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "server/throttle/route_map.h"
#include "server/throttle/throttler.h"

namespace sluice::throttle {

int64_t Throttler::HolderLimitLocked(const ResolvedRoute& route,
                                     absl::FunctionRef<std::string()> holder, TimePoint now,
                                     bool* unnamed) {
  *unnamed = false;
  constexpr int64_t kAll = std::numeric_limits<int64_t>::max();
  if (!write_ahead()) return kAll;  // nothing persisted: no takeover to prepare
  const bool reserves_errors = std::any_of(
      route.uses.begin(), route.uses.end(),
      [](const LeaseUse& use) { return use.budget->is_error_limit() && use.cost.reserve > 0; });
  if (!reserves_errors) return kAll;
  const std::string name = holder();
  auto [it, added] = error_holders_.try_emplace(name, now);
  it->second = now;
  if (!added && error_holders_grantable_.count(name) > 0) return kAll;
  // Ask for it in the next row (a write comes within one interval).
  if (added) Changed();
  *unnamed = true;
  int64_t left = kAll;
  for (const LeaseUse& use : route.uses) {
    if (!use.budget->is_error_limit() || use.cost.reserve <= 0) continue;
    auto granted = unnamed_granted_.find(use.budget->name());
    left = std::min<int64_t>(
        left, UnnamedCalls() - (granted == unnamed_granted_.end() ? 0 : granted->second));
  }
  return std::max<int64_t>(0, left);
}

void Throttler::GrantedUnnamedLocked(const ResolvedRoute& route, int64_t calls) {
  for (const LeaseUse& use : route.uses) {
    if (use.budget->is_error_limit() && use.cost.reserve > 0) {
      unnamed_granted_[use.budget->name()] += calls;
    }
  }
}

TimePoint Throttler::SettlingRetryLocked(const ResolvedRoute& route, TimePoint retry_at,
                                         TimePoint now) {
  if (!takeover_waiting_) return retry_at;
  // Confirmations come within a report interval or two of the agents'
  // first lease from this coordinator; after that, asking every second
  // costs little until the charge ends by itself.
  constexpr Duration kSettlingRetry = std::chrono::seconds(1);
  for (const LeaseUse& use : route.uses) {
    ErrorWindow* e = use.budget->errors();
    if (e != nullptr && e->charge(now)) return std::min(retry_at, now + kSettlingRetry);
  }
  return retry_at;
}

Throttler::ErrorLimitHolders Throttler::TakeErrorLimitHolders() {
  std::lock_guard<DecisionMutex> lock(mu_);
  const TimePoint now = clock_->Now();
  ProcessDueLocked(now);  // lapsed leases charged before the rows are taken
  ErrorLimitHolders out;
  out.incarnation = incarnation_.load(std::memory_order_relaxed);
  // A holder whose last grant is answered by now cannot hold an unanswered
  // call: its errors are in the budget rows of this write or earlier.
  const Duration answered = TakeoverAnswerTime();
  for (auto it = error_holders_.begin(); it != error_holders_.end();) {
    if (it->second + answered < now) {
      it = error_holders_.erase(it);
    } else {
      out.holders.push_back(it->first);
      ++it;
    }
  }
  // Until this row commits, grant only to holders named in it too.
  for (auto it = error_holders_grantable_.begin(); it != error_holders_grantable_.end();) {
    if (error_holders_.count(*it) == 0) {
      it = error_holders_grantable_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

void Throttler::CommitErrorLimitHolders(const std::vector<std::string>& holders) {
  std::lock_guard<DecisionMutex> lock(mu_);
  error_holders_grantable_ = std::unordered_set<std::string>(holders.begin(), holders.end());
  unnamed_granted_.clear();
}

void Throttler::ConfirmSettled(const std::string& agent_id, const SettledReport& report) {
  std::lock_guard<DecisionMutex> lock(mu_);
  // An older incarnation's settlement says nothing of this one's.
  if (!takeover_waiting_ || report.settled_before < incarnation_.load(std::memory_order_relaxed)) {
    return;
  }
  const std::string holder = AgentHolder(agent_id, report.instance);
  if (takeover_waiting_->erase(holder) == 0) return;  // not named, or said already
  const TimePoint now = clock_->Now();
  HolderConfirmation& c = takeover_confirmed_[holder];
  if (report.errors_since_start && !report.instance.empty()) {
    c.errors_from = TimePoint::min();  // the process had no call before
  } else if (report.errors_cover) {
    c.errors_from = now - std::max(Duration::zero(), *report.errors_cover);
  }
  for (const Observation& o : report.errors) {
    if (o.key.upstream != Upstream::kEsi) continue;
    // As late as the answer can have been (the batch was sent before now),
    // sent as early as it can have been.
    const TimePoint resp_hi = now - std::max(Duration::zero(), o.response_age.value_or(Duration{}));
    TimePoint sent_lo =
        o.sent_age ? now - std::max(Duration::zero(), *o.sent_age) - options_.transit_allowance
                   : resp_hi - options_.max_request_duration;
    c.errors.emplace_back(EgressScope(o.key), SpendTiming{std::min(sent_lo, resp_hi), resp_hi});
    c.statuses.push_back(o.status);
  }
  if (takeover_waiting_->empty()) SettleTakeoverLocked(now);
}

void Throttler::SettleTakeoverLocked(TimePoint now) {
  for (const TakeoverCharge& charge : takeover_charges_) {
    Budget* b = FindBudgetLocked(charge.budget);
    if (b == nullptr || b->errors() == nullptr) continue;
    // An error answered before this was reported to the old leader before
    // the row was taken (or is still in its holder's report queue, which the
    // holder delivers to us): only later ones can be missing from the row.
    const TimePoint since = charge.row_time - TakeoverAnswerTime();
    bool complete = true;
    std::vector<SpendTiming> errors;
    for (const auto& [holder, c] : takeover_confirmed_) {
      if (!c.errors_from || *c.errors_from > since) {
        complete = false;
        break;
      }
      for (size_t i = 0; i < c.errors.size(); ++i) {
        const auto& [scope, timing] = c.errors[i];
        if (scope == charge.scope && timing.resp_hi >= since &&
            ActualUnits(*b, c.statuses[i]) > 0) {
          errors.push_back(timing);
        }
      }
    }
    // Holders not named may have had a few calls after the row
    // (HolderLimitLocked): those stay charged as they were.
    const int64_t keep = 2 * UnnamedCalls() * std::max(1, options_.esi_error_reserve_per_call);
    if (complete ? b->errors()->ReplaceCharge(errors, keep, now)
                 : b->errors()->SettleCharge(now, keep, now)) {
      ++(complete ? takeover_replaced_ : takeover_answered_);
      TouchLocked(b, now);
    }
  }
  takeover_waiting_.reset();
  takeover_charges_.clear();
  takeover_confirmed_.clear();
  takeover_settled_at_ = now;
  Changed();
  LOG(INFO) << "throttle: every holder of the old leader's error-limit calls has them answered: "
            << takeover_replaced_ << " address error-limit charges replaced by the errors listed, "
            << takeover_answered_ << " counted as answered now";
}

Throttler::TakeoverSettlement Throttler::takeover_settlement() {
  std::lock_guard<DecisionMutex> lock(mu_);
  TakeoverSettlement out;
  out.pending = takeover_waiting_.has_value();
  if (takeover_waiting_) {
    out.waiting.assign(takeover_waiting_->begin(), takeover_waiting_->end());
    std::sort(out.waiting.begin(), out.waiting.end());
  }
  out.settled_at = takeover_settled_at_;
  out.replaced = takeover_replaced_;
  out.answered = takeover_answered_;
  return out;
}

}  // namespace sluice::throttle
