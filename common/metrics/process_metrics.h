// ProcessMetrics is the standard `process_*` family set of Prometheus
// clients (prometheus-cpp 1.0 has no process collector), read from /proc at
// every scrape: process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds,
// process_threads and process_start_time_seconds. Off Linux, or if /proc
// cannot be read, the families it cannot fill are left out.
//
// BuildInfo is `sluice_build_info{version,commit} 1` (common/version.h; the
// commit is the one CMake configured the build from, "unknown" outside git).
//
// Thread-safety: Collect is safe from any thread (reads only /proc).
#ifndef SLUICE_COMMON_METRICS_PROCESS_METRICS_H_
#define SLUICE_COMMON_METRICS_PROCESS_METRICS_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <optional>
#include <string>
#include <vector>

namespace sluice::metrics {

// What /proc says about this process.
struct ProcessStat {
  double cpu_seconds = 0;  // user + system
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double threads = 0;
  double start_time_seconds = 0;  // since the Unix epoch
};

// Parses /proc/self/stat's text (`stat`) with the boot time from /proc/stat
// (`btime`), the clock ticks per second and the page size. nullopt if the
// text is not a stat line.
std::optional<ProcessStat> ParseProcStat(const std::string& stat, double boot_time_seconds,
                                         double ticks_per_second, double page_size);

class ProcessMetrics : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

class BuildInfo : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
  static const char* Commit();
};

}  // namespace sluice::metrics

#endif  // SLUICE_COMMON_METRICS_PROCESS_METRICS_H_
