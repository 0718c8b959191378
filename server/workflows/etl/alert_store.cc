#include "server/workflows/etl/alert_store.h"

#include "common/time_util.h"
#include "server/workflows/etl/etl_sql.h"

namespace sluice::etl {

absl::StatusOr<std::map<std::string, Alert>> AlertStore::Firing() const {
  std::map<std::string, Alert> out;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction t(conn);
    for (const auto& r : t.exec(etl_sql::kFiringAlerts)) {
      out[r[0].as<std::string>()] =
          Alert{r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
                FromUnixSeconds(r[4].as<double>())};
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

absl::Status AlertStore::Record(const std::vector<AlertTransition>& transitions,
                                TimePoint at) const {
  if (transitions.empty()) return absl::OkStatus();
  return pool_->Run([&](pqxx::connection& conn) {
    pqxx::work w(conn);
    const std::string at_text = FormatRfc3339(at);
    for (const AlertTransition& t : transitions) {
      w.exec_params(etl_sql::kInsertAlertEvent, t.alert.key(), t.alert.rule, t.alert.stream,
                    t.firing ? "firing" : "resolved", t.alert.message, FormatRfc3339(t.alert.since),
                    at_text);
    }
    w.commit();
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<AlertEvent>> AlertStore::History(int limit) const {
  std::vector<AlertEvent> out;
  absl::Status s = pool_->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction t(conn);
    for (const auto& r : t.exec_params(etl_sql::kAlertHistory, limit)) {
      AlertEvent e;
      e.id = r[0].as<int64_t>();
      e.alert = Alert{r[1].as<std::string>(), r[2].as<std::string>(), r[4].as<std::string>(),
                      FromUnixSeconds(r[5].as<double>())};
      e.state = r[3].as<std::string>();
      e.at = FromUnixSeconds(r[6].as<double>());
      out.push_back(std::move(e));
    }
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace sluice::etl
