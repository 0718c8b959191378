// LimiterTable<T> holds one limiter per key (a caller, an address), created
// on demand, so the simulator can bill each caller separately the way the
// real upstreams do, for any number of callers.
//
// Idle limiters are dropped: a limiter whose T::Idle() is true (fully
// refilled, nothing in flight) is indistinguishable from a new one, so the
// table forgets it. Forgetting happens in sweeps, each one run when the table
// has doubled since the previous sweep, so a request costs amortized O(1)
// and memory follows the callers active within a window, not every caller
// ever seen.
//
// T must provide `bool Idle()`, safe to call concurrently with its other
// methods.
//
// Ownership: entries are shared_ptrs. A request holds its limiter between
// admission and settlement; a limiter held outside the table is never swept
// (its use_count is above one), so a reservation cannot be lost to a sweep.
// Thread-safety: all methods are safe to call concurrently (one mutex). The
// table lock is taken before a limiter's own lock, never after.
#ifndef SLUICE_SIM_LIMITER_TABLE_H_
#define SLUICE_SIM_LIMITER_TABLE_H_

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice::sim {

template <typename T>
class LimiterTable {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;

  explicit LimiterTable(Factory make) : make_(std::move(make)) {}

  LimiterTable(const LimiterTable&) = delete;
  LimiterTable& operator=(const LimiterTable&) = delete;

  // The limiter of `key`, created when there is none.
  std::shared_ptr<T> Get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) return it->second;
    if (entries_.size() >= sweep_at_) SweepLocked();
    std::shared_ptr<T> made(make_().release());
    entries_.emplace(key, made);
    return made;
  }

  // The limiter of `key`, or null (a caller never seen, or idle and dropped:
  // both mean "a full budget").
  std::shared_ptr<T> Find(const std::string& key) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(key);
    return it == entries_.end() ? nullptr : it->second;
  }

  // Every entry, copied out so callers can inspect them without blocking
  // requests.
  std::vector<std::pair<std::string, std::shared_ptr<T>>> Snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return {entries_.begin(), entries_.end()};
  }

  // Drops every limiter: every key gets a full budget again.
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    entries_.clear();
    sweep_at_ = kMinSweep;
  }

  // Entries held, idle ones not yet swept included.
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
  }

 private:
  static constexpr size_t kMinSweep = 1024;

  void SweepLocked() {
    for (auto it = entries_.begin(); it != entries_.end();) {
      // use_count() == 1: only the table holds it, and new holders are only
      // made under mu_, which we hold.
      if (it->second.use_count() == 1 && it->second->Idle()) {
        it = entries_.erase(it);
      } else {
        ++it;
      }
    }
    sweep_at_ = std::max(kMinSweep, 2 * entries_.size());
  }

  const Factory make_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<T>> entries_;  // guarded by mu_
  size_t sweep_at_ = kMinSweep;                                  // guarded by mu_
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_LIMITER_TABLE_H_
