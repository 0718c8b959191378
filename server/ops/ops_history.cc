#include "server/ops/ops_history.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sluice {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();
constexpr size_t kMaxDroppedNames = 1024;

// Three significant decimals are plenty for a chart and keep the JSON short.
double Rounded(float v) {
  const double d = v;
  if (d == 0 || !std::isfinite(d)) return d;
  const double scale = std::pow(10.0, 3 - static_cast<int>(std::ceil(std::log10(std::fabs(d)))));
  return std::round(d * scale) / scale;
}

// The q-quantile of the observations between two cumulative histograms of
// the same buckets, interpolated within its bucket as Prometheus'
// histogram_quantile does; nullopt without observations in between.
std::optional<double> IntervalQuantile(const LatencyHistogram& now, const LatencyHistogram& before,
                                       double q) {
  if (now.count <= before.count || now.buckets.size() != before.buckets.size()) {
    return std::nullopt;
  }
  const double total = static_cast<double>(now.count - before.count);
  const double rank = q * total;
  double lower = 0;
  double below = 0;
  for (size_t i = 0; i < now.buckets.size(); ++i) {
    if (now.buckets[i].second < before.buckets[i].second) return std::nullopt;  // a reset
    const double upper = now.buckets[i].first;
    const double cumulative = static_cast<double>(now.buckets[i].second - before.buckets[i].second);
    if (cumulative >= rank) {
      if (!std::isfinite(upper)) return lower;  // beyond the last bound: say the bound
      const double in_bucket = cumulative - below;
      if (in_bucket <= 0) return upper;
      return lower + (upper - lower) * (rank - below) / in_bucket;
    }
    lower = upper;
    below = cumulative;
  }
  return std::nullopt;
}

}  // namespace

OpsHistory::OpsHistory(OpsHistoryOptions options)
    : options_(options),
      times_(std::max<size_t>(1, options.capacity), 0),
      values_(std::max<size_t>(1, options.capacity) * std::max<size_t>(1, options.max_series),
              kMissing) {}

std::optional<size_t> OpsHistory::SeriesIndex(const std::string& name) {
  if (auto it = index_.find(name); it != index_.end()) return it->second;
  if (names_.size() >= std::max<size_t>(1, options_.max_series)) {
    // Each refused name counted once; past a bound only counted.
    if (dropped_names_.size() < kMaxDroppedNames) {
      dropped_names_.insert(name);
      dropped_series_ = dropped_names_.size();
    } else if (!dropped_names_.count(name)) {
      ++dropped_series_;
    }
    return std::nullopt;
  }
  names_.push_back(name);
  index_[name] = names_.size() - 1;
  return names_.size() - 1;
}

void OpsHistory::Set(std::vector<float>& row, const std::string& name, double value) {
  if (!std::isfinite(value)) return;
  if (auto i = SeriesIndex(name)) row[*i] = static_cast<float>(value);
}

void OpsHistory::Record(const OpsSnapshot& s) {
  // Milliseconds, as the JSON shows them: a page's ?since=<its last t> must
  // not get that point again.
  const double at = std::round(ToUnixSeconds(s.taken_at) * 1000) / 1000;
  const size_t width = std::max<size_t>(1, options_.max_series);
  std::vector<float> row(width, kMissing);

  // Counters of this snapshot, by the series their rate goes to.
  std::map<std::string, double> counters;
  double rows_total = 0;
  for (const CheckpointGauge& c : s.checkpoints) {
    // ETL streams count raw rows transformed, not rows ingested.
    if (c.stream.rfind("etl:", 0) == 0) continue;
    counters["ingest.rows_per_s|" + c.stream] = static_cast<double>(c.rows);
    rows_total += static_cast<double>(c.rows);
  }
  if (!s.checkpoints.empty()) counters["ingest.rows_per_s"] = rows_total;
  for (const auto& f : s.budget_families) {
    counters["calls.per_s|" + f.name] = static_cast<double>(f.counters.granted);
  }

  std::lock_guard<std::mutex> lock(mu_);
  const double dt = at - previous_at_;
  if (have_previous_ && dt > 0) {
    for (const auto& [name, value] : counters) {
      auto it = previous_counters_.find(name);
      if (it == previous_counters_.end()) continue;
      const double delta = value - it->second;
      if (delta >= 0) Set(row, name, delta / dt);  // else: reset, no rate this point
    }
    last_interval_ = std::round(dt * 1000) / 1000;  // the times are whole milliseconds
  }
  for (const auto& [op, histogram] :
       {std::make_pair("claim", &s.claim_latency), std::make_pair("commit", &s.commit_latency)}) {
    auto before = previous_latency_.find(op);
    if (before != previous_latency_.end()) {
      const std::string prefix = std::string("latency.") + op;
      if (auto p50 = IntervalQuantile(*histogram, before->second, 0.5))
        Set(row, prefix + "_p50_s", *p50);
      if (auto p95 = IntervalQuantile(*histogram, before->second, 0.95))
        Set(row, prefix + "_p95_s", *p95);
    }
    previous_latency_[op] = *histogram;
  }
  previous_counters_ = std::move(counters);
  previous_at_ = at;
  have_previous_ = true;

  for (const auto& f : s.budget_families) {
    if (f.most_constrained.empty()) continue;
    const auto& w = f.most_constrained.front().window;
    if (w.limit > 0) {
      Set(row, "budget.headroom|" + f.name,
          std::clamp(static_cast<double>(w.remaining) / static_cast<double>(w.limit), 0.0, 1.0));
    }
  }
  for (const KindStats& k : s.queue) {
    Set(row, "queue.depth|" + k.kind, static_cast<double>(k.ready + k.leased + k.retrying));
  }
  if (s.database_ok) {
    Set(row, "alerts.firing", static_cast<double>(s.panels.alerts_firing.size()));
  }

  const size_t capacity = times_.size();
  times_[head_] = at;
  std::copy(row.begin(), row.end(), values_.begin() + static_cast<ptrdiff_t>(head_ * width));
  head_ = (head_ + 1) % capacity;
  size_ = std::min(size_ + 1, capacity);
}

nlohmann::json OpsHistory::Since(double since) const {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t capacity = times_.size();
  const size_t width = std::max<size_t>(1, options_.max_series);
  const size_t oldest = (head_ + capacity - size_) % capacity;
  // Times only grow along the ring (one writer, a steady clock in practice):
  // skip to the first point after `since`.
  size_t first = 0;
  while (first < size_ && times_[(oldest + first) % capacity] <= since) ++first;

  nlohmann::json t = nlohmann::json::array();
  std::vector<nlohmann::json> columns(names_.size(), nlohmann::json::array());
  std::vector<bool> any(names_.size(), false);
  for (size_t n = first; n < size_; ++n) {
    const size_t slot = (oldest + n) % capacity;
    t.push_back(times_[slot]);
    const float* row = &values_[slot * width];
    for (size_t i = 0; i < names_.size(); ++i) {
      if (std::isnan(row[i])) {
        columns[i].push_back(nullptr);
      } else {
        columns[i].push_back(Rounded(row[i]));
        any[i] = true;
      }
    }
  }
  nlohmann::json values = nlohmann::json::object();
  nlohmann::json series = nlohmann::json::array();
  for (size_t i = 0; i < names_.size(); ++i) {
    if (!any[i]) continue;
    series.push_back(names_[i]);
    values[names_[i]] = std::move(columns[i]);
  }
  return {{"capacity", capacity},
          {"points", size_},
          {"interval_hint_s", last_interval_},
          {"dropped_series", dropped_series_},
          {"series", std::move(series)},
          {"t", std::move(t)},
          {"values", std::move(values)}};
}

size_t OpsHistory::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return size_;
}

size_t OpsHistory::series_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return names_.size();
}

}  // namespace sluice
