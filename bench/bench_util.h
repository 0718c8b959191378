// Helpers the benchmarks share: what the shared machine was doing during a
// run, and a clean throttler start on a scratch database.
#ifndef SLUICE_BENCH_BENCH_UTIL_H_
#define SLUICE_BENCH_BENCH_UTIL_H_

#include <string>

#include "absl/status/status.h"

namespace sluice::bench {

// "/proc/loadavg"'s three load averages, e.g. "0.42 1.10 2.03".
std::string LoadAverage();

// Deletes the throttler's persisted state so an in-process coordinator starts
// idle and unlearned (a restored state would carry an earlier run's ledgers).
absl::Status ClearThrottleState(const std::string& dsn);

}  // namespace sluice::bench

#endif  // SLUICE_BENCH_BENCH_UTIL_H_
