// FunctionCollectable turns a function returning metric families into a
// prometheus::Collectable: for values that are read when scraped (the ops
// snapshot, an agent's counters) rather than kept in a registry.
// SingleValueFamily builds the commonest such family: one sample, no labels.
//
// Thread-safety: as the function's.
#ifndef SLUICE_COMMON_METRICS_FUNCTION_COLLECTABLE_H_
#define SLUICE_COMMON_METRICS_FUNCTION_COLLECTABLE_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::metrics {

class FunctionCollectable : public prometheus::Collectable {
 public:
  using Function = std::function<std::vector<prometheus::MetricFamily>()>;
  explicit FunctionCollectable(Function f) : f_(std::move(f)) {}
  std::vector<prometheus::MetricFamily> Collect() const override { return f_(); }

 private:
  Function f_;
};

// A family of one unlabelled sample: a gauge, or a counter when `type` says.
inline prometheus::MetricFamily SingleValueFamily(
    const std::string& name, const std::string& help, double value,
    prometheus::MetricType type = prometheus::MetricType::Gauge) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace sluice::metrics

#endif  // SLUICE_COMMON_METRICS_FUNCTION_COLLECTABLE_H_
