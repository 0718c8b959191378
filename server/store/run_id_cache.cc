#include "server/store/run_id_cache.h"

#include <vector>

#include "server/store/pg_pool.h"
#include "server/store/queue_sql.h"

namespace sluice {

std::map<int64_t, std::string> RunIdCache::Resolve(pqxx::transaction_base& tx,
                                                   const std::set<int64_t>& refs) {
  std::map<int64_t, std::string> out;
  std::vector<int64_t> missing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int64_t ref : refs) {
      if (ref == 0) continue;
      auto it = ids_.find(ref);
      if (it != ids_.end()) {
        out[ref] = it->second;
      } else {
        missing.push_back(ref);
      }
    }
  }
  if (missing.empty()) return out;
  std::map<int64_t, std::string> read;
  for (const auto& row : tx.exec_params(queue_sql::kRunIds, PgArray(missing))) {
    read[row[0].as<int64_t>()] = row[1].c_str();
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (ids_.size() + read.size() > capacity_) ids_.clear();
  for (const auto& [ref, id] : read) {
    ids_[ref] = id;
    out[ref] = id;
  }
  return out;
}

}  // namespace sluice
