// AlertStore keeps the alert history in alert_events: which alerts are
// firing (the keys whose latest event is 'firing'), recording firing /
// resolved transitions, and listing recent events.
//
// Ownership: borrows the pool. Thread-safety: safe from any thread; callers
// that diff against Firing() and then Record() must not race each other
// (the module's loop is the only recorder).
#ifndef SLUICE_SERVER_WORKFLOWS_ETL_ALERT_STORE_H_
#define SLUICE_SERVER_WORKFLOWS_ETL_ALERT_STORE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/store/pg_pool.h"
#include "server/workflows/etl/alert_rules.h"

namespace sluice::etl {

struct AlertEvent {
  int64_t id = 0;
  Alert alert;
  std::string state;  // firing, resolved
  TimePoint at{};
};

class AlertStore {
 public:
  explicit AlertStore(PgPool* pool) : pool_(pool) {}

  // key -> alert, for every alert whose latest event is 'firing'.
  absl::StatusOr<std::map<std::string, Alert>> Firing() const;
  // Appends one event per transition, all in one transaction.
  absl::Status Record(const std::vector<AlertTransition>& transitions, TimePoint at) const;
  // Newest first.
  absl::StatusOr<std::vector<AlertEvent>> History(int limit) const;

 private:
  PgPool* const pool_;
};

}  // namespace sluice::etl

#endif  // SLUICE_SERVER_WORKFLOWS_ETL_ALERT_STORE_H_
