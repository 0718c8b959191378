// DashboardPanels is the part of the ops snapshot (ops_snapshot.h) that only
// the dashboard's panels and a few gauges need: the stream alerts (firing and
// the latest changes, from the ETL module's alert store), each stream's health
// row (poe_ingest_status), the gold tables' figures (the latest currency
// snapshot per league, the stash valuation per league) and the jobs' latest
// runs. CollectDashboardPanels reads them fresh; RenderDashboardPanelsJson
// adds them to /api/ops.
//
// Everything here is bounded: leagues, streams, jobs and alert events are
// capped by the statements (ops_sql.h) and the calls' limits.
//
// Thread-safety: plain data; CollectDashboardPanels may run concurrently with
// everything it reads.
#ifndef SLUICE_SERVER_OPS_DASHBOARD_PANELS_H_
#define SLUICE_SERVER_OPS_DASHBOARD_PANELS_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "server/scheduler/job_run_store.h"
#include "server/workflows/etl/alert_rules.h"
#include "server/workflows/etl/alert_store.h"

namespace sluice {

class PgPool;
class Scheduler;

// One poe_ingest_status row (refreshed by the ETL module's loop).
struct StreamHealthRow {
  std::string stream;
  std::string kind;
  double lag_seconds = 0;
  double requests_per_min = 0;
  int64_t rows_window = 0;
  int64_t errors_window = 0;
  int64_t http_429_window = 0;
  int64_t pending_rows = 0;
  int64_t rejected_rewinds = 0;
  double refreshed_age_seconds = 0;
};

// The latest hour of gold_currency_snapshot for one league.
struct LeagueCurrencyRow {
  std::string realm;
  std::string league;
  int64_t hour = 0;  // unix time of the hour's start
  int64_t currencies = 0;
  double chaos_volume = 0;
  struct Top {
    std::string currency;
    double ratio_to_chaos = 0;
    double chaos_volume = 0;
  };
  std::vector<Top> top;  // by chaos volume, at most 5
};

// One gold_stash_summary row.
struct LeagueValuationRow {
  std::string realm;
  std::string league;
  int64_t stashes = 0;
  int64_t public_stashes = 0;
  int64_t priced_items = 0;
  int64_t valued_items = 0;
  double total_chaos = 0;
  std::optional<TimePoint> updated_at;
};

struct DashboardPanels {
  bool read_ok = true;  // false: some panel could not be read (error says which)
  std::string error;
  std::vector<etl::Alert> alerts_firing;       // by key
  std::vector<etl::AlertEvent> alerts_recent;  // newest first
  std::vector<StreamHealthRow> streams;
  std::vector<LeagueCurrencyRow> currency;
  std::vector<LeagueValuationRow> valuations;
  std::vector<JobRunRow> recent_runs;  // newest first
};

// Tables that do not exist yet (before their migration) give empty panels.
DashboardPanels CollectDashboardPanels(PgPool* pool, Scheduler* scheduler, TimePoint now);

// Adds "alerts", "streams", "gold" and "runs" to the /api/ops document.
void RenderDashboardPanelsJson(const DashboardPanels& p, TimePoint now, nlohmann::json* out);

}  // namespace sluice

#endif  // SLUICE_SERVER_OPS_DASHBOARD_PANELS_H_
