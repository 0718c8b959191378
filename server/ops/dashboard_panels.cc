#include "server/ops/dashboard_panels.h"

#include <cmath>

#include "common/rfc3339.h"
#include "server/ops/ops_sql.h"
#include "server/scheduler/scheduler.h"
#include "server/store/pg_pool.h"

namespace sluice {
namespace {

constexpr int kRecentAlertEvents = 20;
constexpr int kRecentRuns = 30;

void Fail(DashboardPanels* p, const std::string& what, const absl::Status& s) {
  if (!p->read_ok) return;  // the first error says enough
  p->read_ok = false;
  p->error = what + ": " + std::string(s.message());
}

double Age(TimePoint now, TimePoint t) { return std::chrono::duration<double>(now - t).count(); }

}  // namespace

DashboardPanels CollectDashboardPanels(PgPool* pool, Scheduler* scheduler, TimePoint now) {
  DashboardPanels p;
  bool layers = false;
  absl::Status read = pool->Run([&](pqxx::connection& conn) {
    pqxx::read_transaction r(conn);
    layers = r.exec(ops_sql::kPoeLayersExist)[0][0].as<bool>();
    if (!layers) return absl::OkStatus();
    for (const auto& row : r.exec_params(ops_sql::kStreamHealth, FormatRfc3339(now))) {
      StreamHealthRow h;
      h.stream = row[0].c_str();
      h.kind = row[1].c_str();
      h.lag_seconds = row[2].as<double>();
      h.requests_per_min = row[3].as<double>();
      h.rows_window = row[4].as<int64_t>();
      h.errors_window = row[5].as<int64_t>();
      h.http_429_window = row[6].as<int64_t>();
      h.pending_rows = row[7].as<int64_t>();
      h.rejected_rewinds = row[8].as<int64_t>();
      h.refreshed_age_seconds = row[9].as<double>();
      p.streams.push_back(std::move(h));
    }
    for (const auto& row : r.exec(ops_sql::kLatestCurrencyPerLeague)) {
      const std::string realm = row[0].c_str();
      const std::string league = row[1].c_str();
      if (p.currency.empty() || p.currency.back().realm != realm ||
          p.currency.back().league != league) {
        LeagueCurrencyRow c;
        c.realm = realm;
        c.league = league;
        c.hour = row[2].as<int64_t>();
        c.currencies = row[3].as<int64_t>();
        c.chaos_volume = row[4].as<double>();
        p.currency.push_back(std::move(c));
      }
      p.currency.back().top.push_back({row[5].c_str(), row[6].as<double>(), row[7].as<double>()});
    }
    for (const auto& row : r.exec(ops_sql::kValuations)) {
      LeagueValuationRow v;
      v.realm = row[0].c_str();
      v.league = row[1].c_str();
      v.stashes = row[2].as<int64_t>();
      v.public_stashes = row[3].as<int64_t>();
      v.priced_items = row[4].as<int64_t>();
      v.valued_items = row[5].as<int64_t>();
      v.total_chaos = row[6].as<double>();
      if (!row[7].is_null()) v.updated_at = FromUnixSeconds(row[7].as<double>());
      p.valuations.push_back(std::move(v));
    }
    return absl::OkStatus();
  });
  if (!read.ok()) Fail(&p, "stream health and gold tables", read);
  if (read.ok() && layers) {
    const etl::AlertStore alerts(pool);
    if (auto firing = alerts.Firing(); firing.ok()) {
      for (auto& [key, alert] : *firing) p.alerts_firing.push_back(std::move(alert));
    } else {
      Fail(&p, "firing alerts", firing.status());
    }
    if (auto recent = alerts.History(kRecentAlertEvents); recent.ok()) {
      p.alerts_recent = std::move(*recent);
    } else {
      Fail(&p, "alert history", recent.status());
    }
  }
  if (read.ok()) {
    if (auto runs = scheduler->ListRuns("", kRecentRuns); runs.ok()) {
      p.recent_runs = std::move(*runs);
    } else {
      Fail(&p, "job runs", runs.status());
    }
  }
  return p;
}

void RenderDashboardPanelsJson(const DashboardPanels& p, TimePoint now, nlohmann::json* out) {
  nlohmann::json& j = *out;
  if (!p.read_ok) j["panels_error"] = p.error;
  nlohmann::json firing = nlohmann::json::array();
  for (const etl::Alert& a : p.alerts_firing) {
    firing.push_back({{"rule", a.rule},
                      {"stream", a.stream},
                      {"message", a.message},
                      {"since", FormatRfc3339(a.since)},
                      {"since_age_seconds", Age(now, a.since)}});
  }
  nlohmann::json recent = nlohmann::json::array();
  for (const etl::AlertEvent& e : p.alerts_recent) {
    recent.push_back({{"id", e.id},
                      {"rule", e.alert.rule},
                      {"stream", e.alert.stream},
                      {"state", e.state},
                      {"message", e.alert.message},
                      {"at", FormatRfc3339(e.at)},
                      {"at_age_seconds", Age(now, e.at)}});
  }
  j["alerts"] = {{"firing", std::move(firing)}, {"recent", std::move(recent)}};

  j["streams"] = nlohmann::json::array();
  for (const StreamHealthRow& h : p.streams) {
    j["streams"].push_back({{"stream", h.stream},
                            {"kind", h.kind},
                            {"lag_seconds", h.lag_seconds},
                            {"requests_per_min", h.requests_per_min},
                            {"rows_window", h.rows_window},
                            {"errors_window", h.errors_window},
                            {"http_429_window", h.http_429_window},
                            {"pending_rows", h.pending_rows},
                            {"rejected_rewinds", h.rejected_rewinds},
                            {"refreshed_age_seconds", h.refreshed_age_seconds}});
  }

  nlohmann::json currency = nlohmann::json::array();
  for (const LeagueCurrencyRow& c : p.currency) {
    nlohmann::json top = nlohmann::json::array();
    for (const LeagueCurrencyRow::Top& t : c.top) {
      top.push_back({{"currency", t.currency},
                     {"ratio_to_chaos", t.ratio_to_chaos},
                     {"chaos_volume", t.chaos_volume}});
    }
    currency.push_back({{"realm", c.realm},
                        {"league", c.league},
                        {"hour", FormatRfc3339(FromUnixSeconds(static_cast<double>(c.hour)))},
                        {"currencies", c.currencies},
                        {"chaos_volume", c.chaos_volume},
                        {"top", std::move(top)}});
  }
  nlohmann::json valuations = nlohmann::json::array();
  for (const LeagueValuationRow& v : p.valuations) {
    nlohmann::json row = {{"realm", v.realm},
                          {"league", v.league},
                          {"stashes", v.stashes},
                          {"public_stashes", v.public_stashes},
                          {"priced_items", v.priced_items},
                          {"valued_items", v.valued_items},
                          {"total_chaos", v.total_chaos}};
    if (v.updated_at) row["updated_at"] = FormatRfc3339(*v.updated_at);
    valuations.push_back(std::move(row));
  }
  j["gold"] = {{"currency", std::move(currency)}, {"valuations", std::move(valuations)}};

  j["runs"] = nlohmann::json::array();
  for (const JobRunRow& r : p.recent_runs) {
    nlohmann::json row = {{"run_id", r.run_id},
                          {"job", r.job},
                          {"outcome", r.outcome},
                          {"started", FormatRfc3339(r.started_at)},
                          {"started_age_seconds", Age(now, r.started_at)},
                          {"upstream_calls", r.counters.upstream_calls},
                          {"rows_upserted", r.counters.rows_upserted},
                          {"errors", r.counters.errors},
                          {"detail", r.detail}};
    if (r.finished_at) {
      row["duration_seconds"] =
          std::chrono::duration<double>(*r.finished_at - r.started_at).count();
    }
    j["runs"].push_back(std::move(row));
  }
}

}  // namespace sluice
