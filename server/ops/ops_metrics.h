// The ops snapshot (ops_snapshot.h) as Prometheus families: what /metrics
// reads fresh at every scrape (queue, budgets, jobs, checkpoints, alerts),
// beside the live histograms of CoordinatorMetrics.
//
// Budgets are shown per family and scope class, never per character or
// address, so the series stay bounded however many callers the throttler
// tracks; a family's name is split into labels:
//   upstream  esi / poe
//   kind      group (an ESI rate-limit group), errors (ESI's error limit),
//             rule (a PoE rule tier), route (a route's budget before its
//             group or policy is known), ungrouped (an ESI route no group
//             governs)
//   group     the ESI group or PoE policy;  rule, tier  the PoE rule and
//             tier;  route  for kind route / ungrouped;  unused ones empty
//   scope     ip / character / account / client / global (per-scope
//             families only)
//
// Series are kept at zero rather than dropped: every kind the coordinator
// knows has its queue series (CollectOpsSnapshot fills the drained ones),
// every alert rule its firing count, and a (family, scope) once seen stays
// with zero budgets (SnapshotMetrics remembers it).
//
// Thread-safety: SnapshotMetrics::Collect may run on several threads at
// once (its memory has a lock).
#ifndef SLUICE_SERVER_OPS_OPS_METRICS_H_
#define SLUICE_SERVER_OPS_OPS_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "server/ops/ops_snapshot.h"

namespace sluice {

// A budget family's name as labels (see the file comment), in label order.
std::vector<std::pair<std::string, std::string>> BudgetFamilyLabels(const std::string& family);

class SnapshotMetrics : public prometheus::Collectable {
 public:
  explicit SnapshotMetrics(std::function<OpsSnapshot()> collect) : collect_(std::move(collect)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;
  // The families of one snapshot (remembering budget scopes seen).
  std::vector<prometheus::MetricFamily> Families(const OpsSnapshot& s) const;

 private:
  std::function<OpsSnapshot()> collect_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::set<std::string>> scopes_seen_;  // family -> classes
};

}  // namespace sluice

#endif  // SLUICE_SERVER_OPS_OPS_METRICS_H_
