#include "server/workflows/etl/alert_rules.h"

#include <algorithm>
#include <cstdio>

namespace sluice::etl {
namespace {

constexpr Duration kHour = std::chrono::hours(1);

std::string Minutes(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f min", std::chrono::duration<double>(d).count() / 60);
  return buf;
}

}  // namespace

const char* AlertRuleName(AlertRule rule) {
  // No default: the compiler (-Wswitch) names a rule left without a name.
  switch (rule) {
    case AlertRule::kStashLag:
      return "stash_lag";
    case AlertRule::kCurrencyLag:
      return "currency_lag";
    case AlertRule::kCheckpointDrift:
      return "checkpoint_drift";
    case AlertRule::kStalled:
      return "stalled";
    case AlertRule::kHttp429Storm:
      return "http_429_storm";
  }
  return "unknown";
}

std::vector<std::string> AlertRuleNames() {
  std::vector<std::string> out;
  for (AlertRule rule : kAllAlertRules) out.push_back(AlertRuleName(rule));
  return out;
}

std::vector<Alert> AlertRules::Evaluate(const std::vector<StreamStatus>& snapshot) const {
  const TimePoint now = clock_->Now();
  std::vector<Alert> out;
  for (const StreamStatus& s : snapshot) EvaluateStream(s, now, &out);
  std::sort(out.begin(), out.end(),
            [](const Alert& a, const Alert& b) { return a.key() < b.key(); });
  return out;
}

void AlertRules::EvaluateStream(const StreamStatus& s, TimePoint now,
                                std::vector<Alert>* out) const {
  const AlertOptions& o = options_;
  auto fire = [&](AlertRule rule, TimePoint since, std::string message) {
    out->push_back(Alert{AlertRuleName(rule), s.stream, std::move(message), since});
  };

  // When the exchange's next hour could first be fetched (nothing is due
  // before it); unset for a cursor that is not an hour.
  std::optional<TimePoint> exchange_due;
  if (s.kind == StreamKind::kExchange) {
    if (auto t = ExchangeCursorTime(s.cursor)) exchange_due = *t + kHour + o.exchange_publish_delay;
  }

  // Freshness SLOs.
  if (s.kind == StreamKind::kStash) {
    const TimePoint base = s.head_at.value_or(s.created_at);
    if (now - base > o.stash_lag_max) {
      fire(AlertRule::kStashLag, base + o.stash_lag_max,
           s.stream + ": not at the head for " + Minutes(now - base) + " (SLO " +
               Minutes(o.stash_lag_max) + ", upstream publication delay excluded)");
    }
  } else if (s.kind == StreamKind::kExchange) {
    const TimePoint base = ExchangeCursorTime(s.cursor).value_or(s.created_at);
    if (now - base > o.currency_lag_max) {
      fire(AlertRule::kCurrencyLag, base + o.currency_lag_max,
           s.stream + ": last ingested hour ended " + Minutes(now - base) + " ago (SLO " +
               Minutes(o.currency_lag_max) + ")");
    }
  }

  // Checkpoint drift: data available, cursor still.
  {
    bool available = false;
    TimePoint since = s.updated_at;
    switch (s.kind) {
      case StreamKind::kExchange:
        if (exchange_due) {
          since = std::max(s.updated_at, *exchange_due);
          available = now >= since && !(s.head_at && *s.head_at >= since);
        } else {
          available = !(s.head_at && *s.head_at >= s.updated_at);
        }
        break;
      case StreamKind::kEtl:
        available = s.pending_rows > 0;
        if (s.pending_since) since = std::max(since, *s.pending_since);
        break;
      default:
        available = !(s.head_at && *s.head_at >= s.updated_at);
        break;
    }
    if (available && now - since > o.drift_after) {
      fire(AlertRule::kCheckpointDrift, since + o.drift_after,
           s.stream + ": cursor '" + s.cursor + "' not advanced for " + Minutes(now - since) +
               " while data is available (limit " + Minutes(o.drift_after) + ")");
    }
  }

  // Stall: no committed poll at all.
  {
    TimePoint since = s.polled_at.value_or(s.created_at);
    if (exchange_due) since = std::max(since, *exchange_due);
    if (now - since > o.stall_after) {
      fire(AlertRule::kStalled, since + o.stall_after,
           s.stream + ": no committed poll for " + Minutes(now - since) + " (limit " +
               Minutes(o.stall_after) + ")");
    }
  }

  // 429 storm.
  {
    std::vector<TimePoint> in_window;
    for (TimePoint t : s.recent_429s) {
      if (t <= now && now - t <= o.storm_window) in_window.push_back(t);
    }
    if (o.storm_count > 0 && static_cast<int>(in_window.size()) >= o.storm_count) {
      std::sort(in_window.begin(), in_window.end());
      // The storm began with the N-th most recent 429.
      const TimePoint since = in_window[in_window.size() - o.storm_count];
      fire(AlertRule::kHttp429Storm, since,
           s.stream + ": " + std::to_string(in_window.size()) + " responses 429 within " +
               Minutes(o.storm_window) + " (limit " + std::to_string(o.storm_count) + ")");
    }
  }
}

std::vector<AlertTransition> DiffAlerts(const std::map<std::string, Alert>& before,
                                        const std::vector<Alert>& now) {
  std::vector<AlertTransition> out;
  std::map<std::string, const Alert*> current;
  for (const Alert& a : now) current[a.key()] = &a;
  for (const auto& [key, a] : current) {
    if (!before.count(key)) out.push_back({*a, true});
  }
  for (const auto& [key, a] : before) {
    if (!current.count(key)) out.push_back({a, false});
  }
  return out;
}

}  // namespace sluice::etl
