#include "server/ops/ops_snapshot.h"

#include <algorithm>

#include "common/time_util.h"
#include "server/ops/ops_sql.h"

namespace sluice {
namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

OpsSnapshot CollectOpsSnapshot(TaskQueue* queue, throttle::Throttler* throttler,
                               Scheduler* scheduler, PgPool* pool, const Clock* clock) {
  OpsSnapshot s;
  s.taken_at = clock->Now();
  if (auto stats = queue->Stats(); stats.ok()) {
    s.queue = std::move(*stats);
    // Every kind the coordinator knows, a drained one at zero: its series
    // stay on /metrics and the dashboard instead of vanishing.
    for (const TaskKind& k : queue->kinds().All()) {
      auto it = std::find_if(s.queue.begin(), s.queue.end(),
                             [&](const KindStats& q) { return q.kind == k.name; });
      if (it == s.queue.end()) s.queue.push_back(KindStats{k.name});
    }
    std::sort(s.queue.begin(), s.queue.end(),
              [](const KindStats& a, const KindStats& b) { return a.kind < b.kind; });
  } else {
    s.database_ok = false;
    s.database_error = std::string(stats.status().message());
  }
  throttle::BudgetQuery query;
  query.top = 1;  // the most constrained budget of each family
  s.budget_families = throttler->ListBudgetFamilies(query).families;
  std::map<std::string, JobRunRow> last_runs;
  if (s.database_ok) {
    if (auto runs = scheduler->ListRuns("", 200); runs.ok()) {
      for (const JobRunRow& r : *runs) last_runs.emplace(r.job, r);  // newest first: first wins
    }
  }
  for (const JobStatus& j : scheduler->Jobs()) {
    JobGauge g;
    g.name = j.name;
    g.running = !j.running_run_id.empty();
    g.skipped_fail_closed = j.skipped_fail_closed;
    if (auto it = last_runs.find(j.name); it != last_runs.end()) {
      g.last_outcome = it->second.outcome;
      g.last_started_age_seconds = Seconds(s.taken_at - it->second.started_at);
    }
    s.jobs.push_back(std::move(g));
  }
  if (s.database_ok) {
    absl::Status read = pool->Run([&](pqxx::connection& conn) {
      pqxx::read_transaction r(conn);
      if (r.exec(ops_sql::kCheckpointsExist)[0][0].as<bool>()) {
        for (const auto& row : r.exec_params(ops_sql::kCheckpoints, FormatRfc3339(s.taken_at))) {
          s.checkpoints.push_back(CheckpointGauge{row[0].c_str(), row[1].c_str(),
                                                  row[2].as<double>(), row[3].as<int64_t>(),
                                                  row[4].as<int64_t>()});
        }
      }
      return absl::OkStatus();
    });
    if (!read.ok()) {
      s.database_ok = false;
      s.database_error = std::string(read.message());
    }
  }
  if (s.database_ok) s.panels = CollectDashboardPanels(pool, scheduler, s.taken_at);
  return s;
}

nlohmann::json RenderJson(const OpsSnapshot& s) {
  nlohmann::json j;
  j["taken_at"] = FormatRfc3339(s.taken_at);
  j["role"] = s.leading ? "leader" : "standby";
  j["leader_epoch"] = s.leader_epoch;
  j["database_ok"] = s.database_ok;
  if (!s.database_ok) j["database_error"] = s.database_error;
  j["queue"] = nlohmann::json::array();
  for (const KindStats& k : s.queue) {
    j["queue"].push_back({{"kind", k.kind},
                          {"ready", k.ready},
                          {"leased", k.leased},
                          {"retrying", k.retrying},
                          {"dead", k.dead},
                          {"oldest_age_seconds", k.oldest_age_seconds}});
  }
  j["budgets"] = nlohmann::json::array();
  for (const auto& f : s.budget_families) {
    nlohmann::json b = {{"name", f.name},
                        {"callers", f.budgets},
                        {"restricted", f.restricted > 0},
                        {"restricted_budgets", f.restricted},
                        {"exhausted_budgets", f.exhausted},
                        {"granted", f.counters.granted},
                        {"denied", f.counters.denied}};
    if (!f.most_constrained.empty()) {
      const throttle::BudgetInfo& worst = f.most_constrained.front();
      b["limit"] = worst.window.limit;
      b["remaining"] = worst.window.remaining;
      b["period_seconds"] = Seconds(worst.window.period);
      b["learned"] = worst.learned;
      b["most_constrained"] = worst.name;
      if (worst.restricted_until > s.taken_at) {
        b["reason"] = worst.restriction_reason;
        b["restricted_for_seconds"] = Seconds(worst.restricted_until - s.taken_at);
      }
      if (worst.next_permitted > s.taken_at) {
        b["next_permitted_in_seconds"] = Seconds(worst.next_permitted - s.taken_at);
      }
    }
    j["budgets"].push_back(std::move(b));
  }
  j["jobs"] = nlohmann::json::array();
  for (const JobGauge& g : s.jobs) {
    j["jobs"].push_back({{"name", g.name},
                         {"running", g.running},
                         {"last_outcome", g.last_outcome},
                         {"last_started_age_seconds", g.last_started_age_seconds},
                         {"skipped_fail_closed", g.skipped_fail_closed}});
  }
  j["checkpoints"] = nlohmann::json::array();
  for (const CheckpointGauge& c : s.checkpoints) {
    j["checkpoints"].push_back({{"stream", c.stream},
                                {"cursor", c.cursor},
                                {"age_seconds", c.age_seconds},
                                {"pages", c.pages},
                                {"rows", c.rows}});
  }
  RenderDashboardPanelsJson(s.panels, s.taken_at, &j);
  return j;
}

}  // namespace sluice
