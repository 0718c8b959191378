// RunIdCache resolves job run references (job_runs.ref, which queue rows keep
// in run_ref: 8 bytes instead of the id's text) to run ids, for leased tasks
// (Task.run_id) and the coordinator's log lines about them. A run's id never
// changes, so what was read once is kept: a lease batch costs at most one
// query, for the runs not seen before, and none once they are known. The
// cache is bounded (emptied when full); few runs are live at a time.
//
// Ownership: owned by its store. Thread-safety: safe from any thread.
#ifndef SLUICE_SERVER_STORE_RUN_ID_CACHE_H_
#define SLUICE_SERVER_STORE_RUN_ID_CACHE_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include <pqxx/pqxx>

namespace sluice {

class RunIdCache {
 public:
  explicit RunIdCache(size_t capacity = 4096) : capacity_(capacity) {}

  // The run id of each of `refs` (0 is no run, left out), reading those not
  // cached in `tx`. A reference whose run row is gone is left out too.
  std::map<int64_t, std::string> Resolve(pqxx::transaction_base& tx, const std::set<int64_t>& refs);

 private:
  const size_t capacity_;
  std::mutex mu_;
  std::unordered_map<int64_t, std::string> ids_;  // guarded by mu_
};

}  // namespace sluice

#endif  // SLUICE_SERVER_STORE_RUN_ID_CACHE_H_
