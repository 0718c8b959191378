#include "server/ops/ops_metrics.h"

#include <algorithm>

#include "absl/strings/str_split.h"
#include "server/workflows/etl/alert_rules.h"

namespace sluice {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

class FamilyBuilder {
 public:
  FamilyBuilder(const std::string& name, const std::string& help, prometheus::MetricType type) {
    f_.name = name;
    f_.help = help;
    f_.type = type;
  }
  FamilyBuilder& Add(const Labels& labels, double value) {
    prometheus::ClientMetric m;
    for (const auto& [k, v] : labels) m.label.push_back({k, v});
    if (f_.type == prometheus::MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    f_.metric.push_back(std::move(m));
    return *this;
  }
  prometheus::MetricFamily Done() { return std::move(f_); }

 private:
  prometheus::MetricFamily f_;
};

FamilyBuilder Gauge(const std::string& name, const std::string& help) {
  return FamilyBuilder(name, help, prometheus::MetricType::Gauge);
}
FamilyBuilder Counter(const std::string& name, const std::string& help) {
  return FamilyBuilder(name, help, prometheus::MetricType::Counter);
}

Labels With(Labels labels, const std::string& k, const std::string& v) {
  labels.emplace_back(k, v);
  return labels;
}

}  // namespace

Labels BudgetFamilyLabels(const std::string& family) {
  std::string upstream, kind, group, rule, tier, route;
  const std::vector<std::string> parts = absl::StrSplit(family, absl::MaxSplits('/', 2));
  upstream = parts.empty() ? "" : parts[0];
  const std::string second = parts.size() > 1 ? parts[1] : "";
  const std::string rest = parts.size() > 2 ? parts[2] : "";
  if (upstream == "esi" && second == "group") {
    kind = "group";
    group = rest;
  } else if (upstream == "esi" && second == "errors") {
    kind = "errors";
  } else if (second == "route") {
    kind = "route";
    route = rest;
  } else if (upstream == "esi" && second == "ungrouped") {
    kind = "ungrouped";
    route = rest;
  } else if (upstream == "poe") {
    // poe/<policy>/<rule>/<tier>
    kind = "rule";
    group = second;
    const std::vector<std::string> rt = absl::StrSplit(rest, absl::MaxSplits('/', 1));
    rule = rt.empty() ? "" : rt[0];
    tier = rt.size() > 1 ? rt[1] : "";
  } else {
    kind = second;
    route = rest;
  }
  return {{"upstream", upstream}, {"kind", kind}, {"group", group},
          {"rule", rule},         {"tier", tier}, {"route", route}};
}

std::vector<prometheus::MetricFamily> SnapshotMetrics::Collect() const {
  return Families(collect_());
}

std::vector<prometheus::MetricFamily> SnapshotMetrics::Families(const OpsSnapshot& s) const {
  std::vector<prometheus::MetricFamily> out;
  out.push_back(Gauge("sluice_leader", "1 on the coordinator that leads its group, 0 on a standby.")
                    .Add({}, s.leading ? 1 : 0)
                    .Done());
  out.push_back(Gauge("sluice_leader_epoch", "The leading coordinator's epoch (0 on a standby).")
                    .Add({}, static_cast<double>(s.leader_epoch))
                    .Done());
  out.push_back(
      Gauge("sluice_database_up", "1 if the coordinator's last look at PostgreSQL worked.")
          .Add({}, s.database_ok ? 1 : 0)
          .Done());
  if (!s.leading) return out;  // a standby knows nothing else

  auto tasks = Gauge("sluice_queue_tasks", "Queued tasks by kind and state (every known kind).");
  auto oldest = Gauge("sluice_queue_oldest_task_age_seconds",
                      "Age of the oldest ready task by kind (0 when none).");
  auto dead = Gauge("sluice_dead_tasks", "Dead-lettered tasks by kind.");
  for (const KindStats& k : s.queue) {
    tasks.Add({{"kind", k.kind}, {"state", "ready"}}, static_cast<double>(k.ready));
    tasks.Add({{"kind", k.kind}, {"state", "leased"}}, static_cast<double>(k.leased));
    tasks.Add({{"kind", k.kind}, {"state", "retrying"}}, static_cast<double>(k.retrying));
    oldest.Add({{"kind", k.kind}}, k.oldest_age_seconds);
    dead.Add({{"kind", k.kind}}, static_cast<double>(k.dead));
  }
  out.push_back(tasks.Done());
  out.push_back(oldest.Done());
  out.push_back(dead.Done());

  auto limit = Gauge("sluice_budget_limit",
                     "Units a budget of the family allows per window (learned or default).");
  auto granted = Counter("sluice_budget_granted_total", "Calls granted under the family's budgets.");
  auto denied = Counter("sluice_budget_denied_total",
                        "Requests refused with one of the family's budgets limiting.");
  auto restrictions = Counter("sluice_budget_restrictions_total",
                              "Restriction episodes (429/420, PoE penalties) of the family.");
  auto budgets = Gauge("sluice_budgets", "Live budgets of the family and scope class (callers).");
  auto restricted =
      Gauge("sluice_budgets_restricted", "Budgets of the family and scope the upstream restricts.");
  auto exhausted = Gauge("sluice_budgets_exhausted",
                         "Budgets of the family and scope that cannot take a call now.");
  auto remaining = Gauge("sluice_budget_min_remaining",
                         "Units left in the family and scope's budget with the fewest (estimate).");
  auto headroom = Gauge("sluice_budget_min_headroom_ratio",
                        "Lowest remaining/limit over the family and scope's budgets (0..1).");
  auto in_flight =
      Gauge("sluice_budget_calls_in_flight", "Calls granted and not yet reported, summed.");
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& f : s.budget_families) {
      const Labels l = BudgetFamilyLabels(f.name);
      if (!f.most_constrained.empty()) {
        limit.Add(l, static_cast<double>(f.most_constrained.front().window.limit));
      }
      granted.Add(l, static_cast<double>(f.counters.granted));
      denied.Add(l, static_cast<double>(f.counters.denied));
      restrictions.Add(l, static_cast<double>(f.counters.restrictions));
      std::set<std::string>& seen = scopes_seen_[f.name];
      for (const auto& [scope, agg] : f.by_scope) seen.insert(scope);
      for (const std::string& scope : seen) {
        const Labels ls = With(l, "scope", scope);
        auto it = f.by_scope.find(scope);
        const throttle::ScopeAggregate agg =
            it == f.by_scope.end() ? throttle::ScopeAggregate{} : it->second;
        budgets.Add(ls, static_cast<double>(agg.budgets));
        restricted.Add(ls, static_cast<double>(agg.restricted));
        exhausted.Add(ls, static_cast<double>(agg.exhausted));
        in_flight.Add(ls, static_cast<double>(agg.outstanding_calls));
        if (agg.budgets > 0) {
          remaining.Add(ls, static_cast<double>(agg.min_remaining));
          headroom.Add(ls, agg.min_room);
        }
      }
    }
  }
  for (auto* b : {&limit, &granted, &denied, &restrictions, &budgets, &restricted, &exhausted,
                  &remaining, &headroom, &in_flight}) {
    out.push_back(b->Done());
  }

  auto running = Gauge("sluice_job_running", "1 while a run of the job is in progress here.");
  auto skipped = Counter("sluice_job_skipped_fail_closed_total",
                         "Runs not started because the job lock could not be checked.");
  auto succeeded =
      Gauge("sluice_job_last_run_succeeded", "1 if the job's newest run succeeded.");
  auto age = Gauge("sluice_job_last_run_age_seconds", "Since the job's newest run started.");
  for (const JobGauge& j : s.jobs) {
    const Labels l = {{"job_name", j.name}};  // "job" is Prometheus' own target label
    running.Add(l, j.running ? 1 : 0);
    skipped.Add(l, static_cast<double>(j.skipped_fail_closed));
    if (!j.last_outcome.empty()) {
      succeeded.Add(l, j.last_outcome == "succeeded" ? 1 : 0);
      age.Add(l, j.last_started_age_seconds);
    }
  }
  for (auto* b : {&running, &skipped, &succeeded, &age}) out.push_back(b->Done());

  auto cp_age = Gauge("sluice_checkpoint_age_seconds", "Since the stream's cursor last moved.");
  auto cp_rows =
      Counter("sluice_checkpoint_rows_total", "Rows committed under the stream's cursor.");
  auto cp_pages =
      Counter("sluice_checkpoint_pages_total", "Pages committed under the stream's cursor.");
  for (const CheckpointGauge& c : s.checkpoints) {
    const Labels l = {{"stream", c.stream}};
    cp_age.Add(l, c.age_seconds);
    cp_rows.Add(l, static_cast<double>(c.rows));
    cp_pages.Add(l, static_cast<double>(c.pages));
  }
  for (auto* b : {&cp_age, &cp_rows, &cp_pages}) out.push_back(b->Done());

  // Per rule (bounded), every rule always: how many streams it fires for.
  std::map<std::string, int> firing;
  for (const std::string& rule : etl::AlertRuleNames()) firing[rule] = 0;
  for (const auto& a : s.panels.alerts_firing) firing[a.rule]++;
  auto alerts = Gauge("sluice_alerts_firing",
                      "Streams the alert rule fires for now (0: not firing), by rule.");
  for (const auto& [rule, n] : firing) alerts.Add({{"alert", rule}}, n);
  out.push_back(alerts.Done());
  return out;
}

}  // namespace sluice
