// CacheEtiquette: whether ESI's clients respect its cache. ESI's best
// practices (developers.eveonline.com/docs/services/esi/best-practices/,
// "Caching") say a resource must not be requested again before the Expires
// its last answer carried ("Circumventing the ESI caching can get you
// banned"), and that all pages of a paged resource carry the same
// Last-Modified. The simulator remembers, per client and resource, the
// Expires it last announced, and counts every request that arrives before
// it: a conditional request (If-None-Match) before Expires counts too, since
// ESI would answer it from the same cache.
//
// A client is the caller ESI bills ("char:<id>", "ip:<address>"); a resource
// is the path without its version prefix plus its query (so each page of a
// paged list is one resource). Memory is bounded: past kMaxEntries tracked
// resources, expired entries are swept, and new ones beyond the bound are
// not tracked (counted as `untracked`).
//
// Ownership: owned by the Simulator. Thread-safety: every method is safe to
// call concurrently (one mutex).
#ifndef SLUICE_SIM_CACHE_ETIQUETTE_H_
#define SLUICE_SIM_CACHE_ETIQUETTE_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "common/clock.h"

namespace sluice::sim {

class CacheEtiquette {
 public:
  // One request for `resource` (route template `route`) by `client` at
  // `now`: counted as early when it comes before the Expires announced to
  // that client for that resource. Returns whether it was early.
  bool RecordRequest(const std::string& client, const std::string& resource,
                     const std::string& route, TimePoint now);
  // The answer to `client` for `resource`, sent at `now`, carried Expires
  // `expires`.
  void Announce(const std::string& client, const std::string& resource, TimePoint expires,
                TimePoint now);
  // Zeroes the counters; what was announced is kept (clients must still obey it).
  void ResetCounters();

  // {"requests_before_expires": N, "by_caller": {...}, "by_route": {...},
  //  "tracked": N, "untracked": N}
  nlohmann::json ToJson() const;

  static constexpr size_t kMaxEntries = 4 << 20;
  static constexpr size_t kMaxViolators = 10000;

 private:
  static std::string Key(const std::string& client, const std::string& resource);

  mutable std::mutex mu_;
  std::unordered_map<std::string, TimePoint> expires_;  // guarded by mu_
  uint64_t early_ = 0;                                  // guarded by mu_
  uint64_t untracked_ = 0;                              // guarded by mu_
  std::map<std::string, uint64_t> early_by_caller_;     // guarded by mu_
  std::map<std::string, uint64_t> early_by_route_;      // guarded by mu_
};

}  // namespace sluice::sim

#endif  // SLUICE_SIM_CACHE_ETIQUETTE_H_
