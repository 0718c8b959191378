#include "common/metrics/process_metrics.h"

#include "common/metrics/function_collectable.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/version.h"

#ifndef SLUICE_COMMIT
#define SLUICE_COMMIT "unknown"
#endif

namespace sluice::metrics {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

double BootTimeSeconds() {
  std::istringstream in(ReadFile("/proc/stat"));
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double t = 0;
      in >> t;
      return t;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

std::optional<double> OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  int n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the descriptor opendir itself holds
}

}  // namespace

std::optional<ProcessStat> ParseProcStat(const std::string& stat, double boot_time_seconds,
                                         double ticks_per_second, double page_size) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the
  // fields are counted from the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || ticks_per_second <= 0) return std::nullopt;
  std::istringstream in(stat.substr(close + 1));
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  std::string f;
  while (in >> f) fields.push_back(f);
  if (fields.size() < 22) return std::nullopt;
  try {
    ProcessStat s;
    s.cpu_seconds = (std::stod(fields[11]) + std::stod(fields[12])) / ticks_per_second;   // 14, 15
    s.threads = std::stod(fields[17]);                                                    // 20
    s.start_time_seconds = boot_time_seconds + std::stod(fields[19]) / ticks_per_second;  // 22
    s.virtual_bytes = std::stod(fields[20]);                                              // 23
    s.resident_bytes = std::stod(fields[21]) * page_size;                                 // 24
    return s;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  static const double boot = BootTimeSeconds();
  if (auto s = ParseProcStat(ReadFile("/proc/self/stat"), boot,
                             static_cast<double>(sysconf(_SC_CLK_TCK)),
                             static_cast<double>(sysconf(_SC_PAGESIZE)))) {
    out.push_back(SingleValueFamily("process_cpu_seconds_total",
                                    "Total user and system CPU time spent in seconds.",
                                    s->cpu_seconds, prometheus::MetricType::Counter));
    out.push_back(SingleValueFamily("process_resident_memory_bytes",
                                    "Resident memory size in bytes.", s->resident_bytes));
    out.push_back(SingleValueFamily("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                                    s->virtual_bytes));
    out.push_back(
        SingleValueFamily("process_threads", "Number of OS threads in the process.", s->threads));
    out.push_back(SingleValueFamily("process_start_time_seconds",
                                    "Start time of the process since unix epoch in seconds.",
                                    s->start_time_seconds));
  }
  if (auto fds = OpenFds()) {
    out.push_back(SingleValueFamily("process_open_fds", "Number of open file descriptors.", *fds));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.push_back(SingleValueFamily("process_max_fds", "Maximum number of open file descriptors.",
                                    static_cast<double>(limit.rlim_cur)));
  }
  return out;
}

const char* BuildInfo::Commit() { return SLUICE_COMMIT; }

std::vector<prometheus::MetricFamily> BuildInfo::Collect() const {
  prometheus::MetricFamily f = SingleValueFamily(
      "sluice_build_info", "Always 1; the labels name the build (version, git commit).", 1);
  f.metric[0].label = {{"commit", Commit()}, {"version", kVersion}};
  return {std::move(f)};
}

}  // namespace sluice::metrics
