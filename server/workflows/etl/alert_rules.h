// AlertRules decides which stream alerts fire, from a status snapshot and the
// clock. No database, no gRPC: the module's loop feeds it what
// IngestStatusReader read, and tests drive it with a FakeClock.
//
// The rules (thresholds in AlertOptions; defaults are seed 002's SLOs):
//
//   stash_lag         a stash stream's lag (IngestLag: now - the last time an
//                     empty page proved we held everything the upstream had
//                     published) > 10 min. PoE publishes stash changes ~5
//                     minutes late for everyone; that delay happens before a
//                     change reaches the head, so it is not in this lag and
//                     cannot false-alarm it. Total age of the freshest data is
//                     at most lag + the upstream delay.
//   currency_lag      an exchange stream's lag (now - the end of the last
//                     ingested hour) > 65 min: an hour is published once it has
//                     ended, so a healthy stream sits between 0 and ~60 min.
//   checkpoint_drift  the cursor has not moved for 2 min although data is
//                     available: not confirmed at the head since the last
//                     advance (stash); the next hour has ended (plus the
//                     publication delay) and no empty answer since (exchange);
//                     raw rows waiting for 2 min (etl).
//   stalled           no committed poll (a page with data or an empty one) for
//                     10 min (exchange: counted from when the next hour became
//                     available, since nothing is due before it).
//   http_429_storm    >= 5 responses 429 within 5 min on one stream.
//
// Thread-safety: immutable; Evaluate is safe from any thread.
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_ALERT_RULES_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_ALERT_RULES_H_

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "server/workflows/etl/stream_status.h"

namespace sluice::etl {

// The rules, by name: the one list of them. Evaluate fires only these
// (an Alert's rule is AlertRuleName of one), and /metrics keeps a series for
// each (server/ops/ops_metrics.cc), so a rule added here is on both.
enum class AlertRule {
  kStashLag,
  kCurrencyLag,
  kCheckpointDrift,
  kStalled,
  kHttp429Storm,
};
inline constexpr AlertRule kAllAlertRules[] = {AlertRule::kStashLag, AlertRule::kCurrencyLag,
                                               AlertRule::kCheckpointDrift, AlertRule::kStalled,
                                               AlertRule::kHttp429Storm};
// "stash_lag", "currency_lag", "checkpoint_drift", "stalled", "http_429_storm".
const char* AlertRuleName(AlertRule rule);
// Every rule's name, in kAllAlertRules' order.
std::vector<std::string> AlertRuleNames();

struct AlertOptions {
  Duration stash_lag_max = std::chrono::minutes(10);
  Duration currency_lag_max = std::chrono::minutes(65);
  Duration drift_after = std::chrono::minutes(2);
  Duration stall_after = std::chrono::minutes(10);
  int storm_count = 5;
  Duration storm_window = std::chrono::minutes(5);
  // How long after an hour ends the exchange may take to publish it.
  Duration exchange_publish_delay = std::chrono::minutes(5);
};

struct Alert {
  std::string rule;  // AlertRuleName of the rule that fired
  std::string stream;
  std::string message;
  TimePoint since{};  // when the condition began to hold
  // "<rule>/<stream>": one alert per rule and stream.
  std::string key() const { return rule + "/" + stream; }
};

class AlertRules {
 public:
  AlertRules(AlertOptions options, const Clock* clock) : options_(options), clock_(clock) {}

  // The alerts firing now, ordered by key.
  std::vector<Alert> Evaluate(const std::vector<StreamStatus>& snapshot) const;

  const AlertOptions& options() const { return options_; }

 private:
  void EvaluateStream(const StreamStatus& s, TimePoint now, std::vector<Alert>* out) const;

  const AlertOptions options_;
  const Clock* const clock_;
};

// A change of an alert's state between two evaluations.
struct AlertTransition {
  Alert alert;
  bool firing = false;  // false: resolved
};

// What changed from `before` (key -> alert) to `now`; firing first, each
// group ordered by key.
std::vector<AlertTransition> DiffAlerts(const std::map<std::string, Alert>& before,
                                        const std::vector<Alert>& now);

}  // namespace sluice::etl

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_ALERT_RULES_H_
