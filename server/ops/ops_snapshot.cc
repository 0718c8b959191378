#include "server/ops/ops_snapshot.h"

#include <cmath>
#include <sstream>

#include "common/time_util.h"
#include "server/ops/ops_sql.h"

namespace sluice {
namespace {

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// Label values: backslash, double quote and newline escaped.
std::string Label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

class PromWriter {
 public:
  void Family(const std::string& name, const std::string& type, const std::string& help) {
    out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  }
  void Sample(const std::string& name,
              const std::vector<std::pair<std::string, std::string>>& labels, double value) {
    out_ << name;
    if (!labels.empty()) {
      out_ << "{";
      for (size_t i = 0; i < labels.size(); ++i) {
        out_ << (i ? "," : "") << labels[i].first << "=\"" << Label(labels[i].second) << "\"";
      }
      out_ << "}";
    }
    if (std::isfinite(value)) {
      out_ << " " << value << "\n";
    } else {
      out_ << " NaN\n";
    }
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

}  // namespace

OpsSnapshot CollectOpsSnapshot(TaskQueue* queue, throttle::Throttler* throttler,
                               Scheduler* scheduler, PgPool* pool, const Clock* clock) {
  OpsSnapshot s;
  s.taken_at = clock->Now();
  if (auto stats = queue->Stats(); stats.ok()) {
    s.queue = std::move(*stats);
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

std::string RenderPrometheus(const OpsSnapshot& s) {
  PromWriter w;
  w.Family("sluice_leader", "gauge", "1 on the coordinator that leads its group, 0 on a standby.");
  w.Sample("sluice_leader", {}, s.leading ? 1 : 0);
  w.Family("sluice_leader_epoch", "gauge", "The leading coordinator's epoch (0 on a standby).");
  w.Sample("sluice_leader_epoch", {}, s.leader_epoch);
  w.Family("sluice_database_up", "gauge", "1 if the coordinator's last look at PostgreSQL worked.");
  w.Sample("sluice_database_up", {}, s.database_ok ? 1 : 0);

  w.Family("sluice_queue_tasks", "gauge", "Queued tasks by kind and state.");
  for (const KindStats& k : s.queue) {
    w.Sample("sluice_queue_tasks", {{"kind", k.kind}, {"state", "ready"}}, k.ready);
    w.Sample("sluice_queue_tasks", {{"kind", k.kind}, {"state", "leased"}}, k.leased);
    w.Sample("sluice_queue_tasks", {{"kind", k.kind}, {"state", "retrying"}}, k.retrying);
  }
  w.Family("sluice_queue_oldest_task_age_seconds", "gauge",
           "Age of the oldest queued task by kind.");
  for (const KindStats& k : s.queue) {
    w.Sample("sluice_queue_oldest_task_age_seconds", {{"kind", k.kind}}, k.oldest_age_seconds);
  }
  w.Family("sluice_dead_tasks", "gauge", "Dead-lettered tasks by kind.");
  for (const KindStats& k : s.queue) w.Sample("sluice_dead_tasks", {{"kind", k.kind}}, k.dead);

  // One series per budget family, not per character or address: the label
  // set stays bounded with 100,000 callers.
  w.Family("sluice_budget_limit", "gauge",
           "Units a budget of the family allows per window (learned or default).");
  w.Family("sluice_budget_remaining", "gauge",
           "Units left now in the family's most constrained budget (estimate).");
  w.Family("sluice_budget_callers", "gauge", "Budgets of the family alive (callers, addresses).");
  w.Family("sluice_budget_restricted", "gauge",
           "Budgets of the family the upstream restricts now.");
  w.Family("sluice_budget_exhausted", "gauge",
           "Budgets of the family that cannot take a call now.");
  w.Family("sluice_budget_granted_total", "counter", "Calls granted under the family's budgets.");
  w.Family("sluice_budget_denied_total", "counter",
           "Requests refused with one of the family's budgets limiting.");
  for (const auto& f : s.budget_families) {
    const std::vector<std::pair<std::string, std::string>> l = {{"budget", f.name}};
    if (!f.most_constrained.empty()) {
      w.Sample("sluice_budget_limit", l, f.most_constrained.front().window.limit);
      w.Sample("sluice_budget_remaining", l, f.most_constrained.front().window.remaining);
    }
    w.Sample("sluice_budget_callers", l, f.budgets);
    w.Sample("sluice_budget_restricted", l, f.restricted);
    w.Sample("sluice_budget_exhausted", l, f.exhausted);
    w.Sample("sluice_budget_granted_total", l, f.counters.granted);
    w.Sample("sluice_budget_denied_total", l, f.counters.denied);
  }

  w.Family("sluice_job_running", "gauge", "1 while a run of the job is in progress here.");
  w.Family("sluice_job_skipped_fail_closed_total", "counter",
           "Runs not started because the job lock could not be checked.");
  w.Family("sluice_job_last_run_succeeded", "gauge", "1 if the job's newest run succeeded.");
  w.Family("sluice_job_last_run_age_seconds", "gauge", "Since the job's newest run started.");
  for (const JobGauge& j : s.jobs) {
    const std::vector<std::pair<std::string, std::string>> l = {{"job", j.name}};
    w.Sample("sluice_job_running", l, j.running ? 1 : 0);
    w.Sample("sluice_job_skipped_fail_closed_total", l, j.skipped_fail_closed);
    if (!j.last_outcome.empty()) {
      w.Sample("sluice_job_last_run_succeeded", l, j.last_outcome == "succeeded" ? 1 : 0);
      w.Sample("sluice_job_last_run_age_seconds", l, j.last_started_age_seconds);
    }
  }

  w.Family("sluice_checkpoint_age_seconds", "gauge", "Since the stream's cursor last moved.");
  w.Family("sluice_checkpoint_rows_total", "counter", "Rows committed under the stream's cursor.");
  w.Family("sluice_checkpoint_pages_total", "counter",
           "Pages committed under the stream's cursor.");
  for (const CheckpointGauge& c : s.checkpoints) {
    const std::vector<std::pair<std::string, std::string>> l = {{"stream", c.stream}};
    w.Sample("sluice_checkpoint_age_seconds", l, c.age_seconds);
    w.Sample("sluice_checkpoint_rows_total", l, c.rows);
    w.Sample("sluice_checkpoint_pages_total", l, c.pages);
  }
  return w.str();
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
