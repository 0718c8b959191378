#include "bench/bench_util.h"

#include <fstream>
#include <pqxx/pqxx>

#include "absl/strings/str_cat.h"
#include "server/throttle/throttle_state.h"

namespace sluice::bench {

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return absl::StrCat(a, " ", b, " ", c);
}

absl::Status ClearThrottleState(const std::string& dsn) {
  try {
    pqxx::connection conn(dsn);
    pqxx::nontransaction nt(conn);
    pqxx::result r = nt.exec("SELECT to_regclass('system_state') IS NOT NULL");
    if (r[0][0].as<bool>()) {
      nt.exec_params("DELETE FROM system_state WHERE key = $1", throttle::kThrottleStateKey);
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot clear throttler state: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace sluice::bench
