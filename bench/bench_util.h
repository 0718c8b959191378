// Helpers the benchmarks share: what the shared machine was doing during a
// run, a clean throttler start on a scratch database, a database for one
// run, the simulator's control surface and its violation count.
#ifndef SLUICE_BENCH_BENCH_UTIL_H_
#define SLUICE_BENCH_BENCH_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/coordinator.h"

namespace sluice::bench {

// Dies with `what` and the status unless it is OK: a bench that cannot start
// says why (a database that does not exist, a port taken).
void CheckOk(const absl::Status& status, const char* what);

// "/proc/loadavg"'s three load averages, e.g. "0.42 1.10 2.03".
std::string LoadAverage();

// This process's resident set (VmRSS of /proc/self/status), KiB; -1 if
// unreadable.
int64_t ResidentKib();

// Options of an in-process coordinator on a free loopback port against `dsn`,
// with `pool_size` connections and no periodic jobs: a bench drives it alone.
CoordinatorOptions LocalCoordinatorOptions(const std::string& dsn, int pool_size);

// Deletes the throttler's persisted state (the version-1 document and every
// version-2 row) so an in-process coordinator starts idle and unlearned (a
// restored state would carry an earlier run's ledgers).
absl::Status ClearThrottleState(const std::string& dsn);

// A PostgreSQL database for one run.
//   * `dsn` given: that (scratch) database; the tables a run fills (queue,
//     entities, killmails, tokens) are emptied first, those that exist yet.
//   * `dsn` empty: a new database "<prefix>_<pid>" on the server of
//     SLUICE_PG_ADMIN_DSN, dropped again when this object is destroyed.
// The throttler's persisted state is cleared either way.
class ScratchDatabase {
 public:
  static absl::StatusOr<std::unique_ptr<ScratchDatabase>> Open(const std::string& dsn,
                                                               const std::string& prefix);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& dsn() const { return dsn_; }
  // The first column of the first row of `sql` as an integer (0 for none or
  // NULL), on a connection of its own.
  int64_t QueryInt(const std::string& sql) const;

 private:
  ScratchDatabase() = default;
  std::string dsn_;
  std::string admin_dsn_;   // set when this object created the database
  std::string created_db_;  // idem
};

// The simulator's control surface on 127.0.0.1:`port`: the JSON answer of a
// GET or an (empty-bodied) POST, or why there is none.
absl::StatusOr<nlohmann::json> SimGet(int port, const std::string& path);
absl::StatusOr<nlohmann::json> SimPost(int port, const std::string& path);

// Prints the simulator's violations (stats["violations"]): one quiet line
// when there are none, a banner that cannot be missed otherwise. Returns
// violations.total; a bench exits non-zero when it is not 0 (zero violations
// is the invariant).
int64_t ReportViolations(const nlohmann::json& sim_stats);

}  // namespace sluice::bench

#endif  // SLUICE_BENCH_BENCH_UTIL_H_
