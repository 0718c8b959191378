// OpsSnapshot is what the coordinator's operations endpoint shows: queue
// depth per kind, throttler budgets and their headroom, periodic jobs, and
// stream checkpoints. CollectOpsSnapshot gathers it from the live parts
// (each call is a fresh look; nothing is cached); ops_metrics.h turns it into
// Prometheus families for /metrics, RenderJson into the dashboard's JSON.
//
// Thread-safety: CollectOpsSnapshot may run concurrently with everything it
// reads; the snapshot itself is plain data.
#ifndef SLUICE_SERVER_OPS_OPS_SNAPSHOT_H_
#define SLUICE_SERVER_OPS_OPS_SNAPSHOT_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "server/ops/coordinator_metrics.h"
#include "server/ops/dashboard_panels.h"
#include "server/queue/task_queue.h"
#include "server/scheduler/scheduler.h"
#include "server/store/pg_pool.h"
#include "server/throttle/throttler.h"

namespace sluice {

struct CheckpointGauge {
  std::string stream;
  std::string cursor;
  double age_seconds = 0;  // since the cursor last moved
  int64_t pages = 0;
  int64_t rows = 0;
};

struct JobGauge {
  std::string name;
  bool running = false;
  int64_t skipped_fail_closed = 0;
  std::string last_outcome;  // of the newest recorded run; empty if none
  double last_started_age_seconds = -1;
};

struct OpsSnapshot {
  TimePoint taken_at;
  // This coordinator's part in its group (server/leader/): a standby's
  // snapshot holds nothing else.
  bool leading = true;
  int64_t leader_epoch = 0;  // 0: not elected (in-process tests)
  bool database_ok = true;
  std::string database_error;
  std::vector<KindStats> queue;
  // Per budget family (an allowance across all its callers): bounded however
  // many characters or addresses the throttler tracks.
  std::vector<throttle::FamilyInfo> budget_families;
  std::vector<JobGauge> jobs;
  std::vector<CheckpointGauge> checkpoints;
  // Claim and commit latency since start (coordinator_metrics.h), for the
  // dashboard's charts; empty where no CoordinatorMetrics runs (a standby).
  LatencyHistogram claim_latency;
  LatencyHistogram commit_latency;
  // Alerts, stream health, gold tables, recent job runs (dashboard_panels.h).
  DashboardPanels panels;
};

// Parts that fail (the database is down) are left empty and noted in
// database_ok/database_error: the endpoint must answer when things are bad.
OpsSnapshot CollectOpsSnapshot(TaskQueue* queue, throttle::Throttler* throttler,
                               Scheduler* scheduler, PgPool* pool, const Clock* clock);

// For the dashboard (/api/ops); /metrics renders it through ops_metrics.h.
nlohmann::json RenderJson(const OpsSnapshot& s);

}  // namespace sluice

#endif  // SLUICE_SERVER_OPS_OPS_SNAPSHOT_H_
