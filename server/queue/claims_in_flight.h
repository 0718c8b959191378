// ClaimsInFlight: the rows running claims hold out of the ready and due
// indexes, per (kind, state), for the index check
// (PgQueueStore::CheckReadyIndex).
//
// Why the check needs them: a claim takes its rows out of the indexes before
// its transaction leases them, and until it commits the table still shows
// them where they were. Under load the claims running at any moment hold
// about the same number of rows (whole batches of 100, 19 batches = 1,900),
// so two checks in a row read the same shortfall, which is what the check
// takes for rows written behind the store's back: it reloaded the whole
// index from the table (seconds at ten million rows) for nothing.
//
// Ownership: counts only. Thread-safety: every method is safe from any
// thread; a Hold belongs to one claim (one thread).
#ifndef SLUICE_SERVER_QUEUE_CLAIMS_IN_FLIGHT_H_
#define SLUICE_SERVER_QUEUE_CLAIMS_IN_FLIGHT_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "server/queue/queue_types.h"

namespace sluice {

class ClaimsInFlight {
 public:
  using Key = std::pair<std::string, TaskState>;

  // One claim's rows out of the indexes; what it still holds when destroyed
  // leaves the count (declare it before the claim's last index update).
  class Hold {
   public:
    explicit Hold(ClaimsInFlight* all) : all_(all) {}
    ~Hold() {
      for (const auto& [key, n] : mine_) all_->Apply(key, -n);
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

    // n rows of `kind` in `state` taken out (n > 0) or put back (n < 0).
    void Add(const std::string& kind, TaskState state, int64_t n) {
      Key key{kind, state};
      all_->Apply(key, n);
      mine_[std::move(key)] += n;
    }

   private:
    ClaimsInFlight* const all_;
    std::map<Key, int64_t> mine_;
  };

  // Rows held by running claims, per (kind, state); keys with none left out.
  std::map<Key, int64_t> Counts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_;
  }

 private:
  void Apply(const Key& key, int64_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    if ((counts_[key] += n) == 0) counts_.erase(key);
  }

  mutable std::mutex mu_;
  std::map<Key, int64_t> counts_;  // guarded by mu_
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_CLAIMS_IN_FLIGHT_H_
