// FunctionCollectable turns a function returning metric families into a
// prometheus::Collectable: for values that are read when scraped (the ops
// snapshot, an agent's counters) rather than kept in a registry.
//
// Thread-safety: as the function's.
#ifndef SLUICE_COMMON_METRICS_FUNCTION_COLLECTABLE_H_
#define SLUICE_COMMON_METRICS_FUNCTION_COLLECTABLE_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <functional>
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

}  // namespace sluice::metrics

#endif  // SLUICE_COMMON_METRICS_FUNCTION_COLLECTABLE_H_
