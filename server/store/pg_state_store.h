// StateStore on the system_state table.
//
// Thread-safety: safe from any thread (borrows pool connections).
#ifndef SLUICE_SERVER_STORE_PG_STATE_STORE_H_
#define SLUICE_SERVER_STORE_PG_STATE_STORE_H_

#include "server/store/pg_pool.h"
#include "server/throttle/state_store.h"

namespace sluice {

class PgStateStore final : public StateStore {
 public:
  // Does not take ownership of pool.
  explicit PgStateStore(PgPool* pool) : pool_(pool) {}
  absl::Status Put(const std::string& key, const std::string& json_value) override;
  absl::StatusOr<std::string> Get(const std::string& key) override;
  absl::StatusOr<std::map<std::string, std::string>> List(const std::string& prefix) override;
  absl::Status Apply(const std::vector<Change>& changes) override;

 private:
  PgPool* pool_;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_STORE_PG_STATE_STORE_H_
