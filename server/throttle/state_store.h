// StateStore is the seam for durable key/value coordinator state (the
// `system_state` table): the throttler persists its budgets through it so a
// restart does not forget them ("budget amnesia", seed 000).
//
// Thread-safety: implementations are safe to call from any thread.
#ifndef SLUICE_SERVER_THROTTLE_STATE_STORE_H_
#define SLUICE_SERVER_THROTTLE_STATE_STORE_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

class StateStore {
 public:
  virtual ~StateStore() = default;
  // Upserts key -> value (value is a JSON document as text).
  virtual absl::Status Put(const std::string& key, const std::string& json_value) = 0;
  // NOT_FOUND if absent.
  virtual absl::StatusOr<std::string> Get(const std::string& key) = 0;
  // All keys starting with prefix.
  virtual absl::StatusOr<std::map<std::string, std::string>> List(const std::string& prefix) = 0;
  // Upserts (value set) and deletes (nullopt) in one transaction: all or none.
  using Change = std::pair<std::string, std::optional<std::string>>;
  virtual absl::Status Apply(const std::vector<Change>& changes) = 0;
};

}  // namespace sluice

#endif  // SLUICE_SERVER_THROTTLE_STATE_STORE_H_
