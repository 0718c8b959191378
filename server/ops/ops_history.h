// OpsHistory is the dashboard's memory: a fixed-size ring of points, one per
// sample of the ops snapshot (the one /metrics renders), by default a day at
// 10 s resolution (8,640 points). Each point holds one value per series; the
// series are named on first sight and bounded (max_series), so memory is
// capacity x max_series floats whatever happens upstream:
//
//   ingest.rows_per_s              rows committed per second, all streams
//   ingest.rows_per_s|<stream>     the same per stream (streams are few)
//   calls.per_s|<family>           upstream calls granted per second, per budget
//                                  family (never per character or address)
//   budget.headroom|<family>       remaining / limit of the family's most
//                                  constrained budget (0..1)
//   queue.depth|<kind>             ready + leased + retrying tasks
//   alerts.firing                  alerts firing
//   latency.<op>_p50_s, _p95_s     claim and commit latency over the interval
//                                  (op: claim, commit), from the difference of
//                                  the snapshot's cumulative histograms
//
// Rates come from the difference of two snapshots' counters (a counter that
// went back, as after a restart, gives no rate for that point). A series
// absent from a snapshot is NaN (null in JSON) at that point; a series first
// seen after max_series names is dropped and counted (each name once).
//
// Thread-safety: every method is safe from any thread (one mutex); Record is
// called by the sampler (ops_sampler.h), Since by HTTP handlers.
#ifndef SLUICE_SERVER_OPS_OPS_HISTORY_H_
#define SLUICE_SERVER_OPS_OPS_HISTORY_H_

#include <cstddef>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "server/ops/ops_snapshot.h"

namespace sluice {

struct OpsHistoryOptions {
  size_t capacity = 8640;   // points kept (a day at 10 s)
  size_t max_series = 128;  // distinct series names kept (8,640 x 128 floats: 4.4 MB)
};

class OpsHistory {
 public:
  explicit OpsHistory(OpsHistoryOptions options = {});
  OpsHistory(const OpsHistory&) = delete;
  OpsHistory& operator=(const OpsHistory&) = delete;

  // Adds the point of `s` (taken_at is its time); rates against the previous
  // recorded snapshot. The oldest point goes once the ring is full.
  void Record(const OpsSnapshot& s);

  // Points taken strictly after `since` (unix seconds), oldest first, as
  // {"interval_hint_s", "capacity", "dropped_series", "series": [names],
  //  "t": [unix seconds], "values": {name: [value or null per t]}}; series
  // with no value in the range are left out.
  nlohmann::json Since(double since) const;

  size_t size() const;
  size_t series_count() const;

 private:
  // Index of `name`, registering it; nullopt when max_series are taken.
  std::optional<size_t> SeriesIndex(const std::string& name);
  void Set(std::vector<float>& row, const std::string& name, double value);

  const OpsHistoryOptions options_;
  mutable std::mutex mu_;
  std::vector<double> times_;  // capacity
  std::vector<float> values_;  // capacity x max_series, row-major
  size_t head_ = 0;            // next slot to write
  size_t size_ = 0;
  std::vector<std::string> names_;
  std::map<std::string, size_t> index_;
  size_t dropped_series_ = 0;
  std::set<std::string> dropped_names_;  // at most 1,024 (then only counted)
  // The previous snapshot's counters, for rates.
  bool have_previous_ = false;
  double previous_at_ = 0;
  std::map<std::string, double> previous_counters_;
  std::map<std::string, LatencyHistogram> previous_latency_;  // "claim", "commit"
  double last_interval_ = 0;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_OPS_OPS_HISTORY_H_
