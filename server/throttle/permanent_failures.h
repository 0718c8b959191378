// PermanentFailures classifies request keys whose upstream answer will not
// change on retry, so the queue fails the task for good instead of feeding
// ESI's error limit (and PoE's invalid-request restrictions) a retry storm.
//
// A key is (upstream, route, request_key). Rules, checked per response:
//   * 2xx/3xx clears the key.
//   * Transient statuses (408, 420, 425, 429 by default) and 5xx/transport
//     failures never count: they say nothing about the request itself.
//   * "Immediately permanent" statuses (400, 404, 410, 422 by default) are
//     permanent at the first occurrence: for both ESI and PoE they mean the
//     request or the entity is invalid (ESI answers 404 for deleted
//     characters and unknown ids, 400/422 for malformed ids).
//   * Any other 4xx (401, 403, ...) is permanent after `threshold` failures
//     within `window` (a token can be refreshed, a 403 can be a blip).
// Permanent keys are remembered for `window` so late repeats keep saying so.
//
// Memory is bounded by max_keys (oldest-first eviction after expired ones).
// Ownership: owned by the Throttler. Thread-safety: none; guarded by the
// Throttler's mutex.
#ifndef SLUICE_SERVER_THROTTLE_PERMANENT_FAILURES_H_
#define SLUICE_SERVER_THROTTLE_PERMANENT_FAILURES_H_

#include <cstdint>
#include <deque>
#include <string>
#include "absl/strings/string_view.h"
#include <unordered_map>
#include <vector>

#include "common/clock.h"

namespace sluice::throttle {

struct PermanentFailureOptions {
  int threshold = 3;
  Duration window = std::chrono::hours(1);
  std::vector<int> immediate_statuses = {400, 404, 410, 422};
  std::vector<int> transient_statuses = {408, 420, 425, 429};
  size_t max_keys = 100000;
};

class PermanentFailures {
 public:
  explicit PermanentFailures(PermanentFailureOptions options) : options_(std::move(options)) {}

  // Records one response for `key`; true if the key is (now) permanent.
  bool Record(const std::string& key, int status, TimePoint now);
  bool IsPermanent(const std::string& key, TimePoint now) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    TimePoint first;  // start of the counting window
    TimePoint last;
    int failures = 0;
    bool permanent = false;
  };
  bool Contains(const std::vector<int>& list, int status) const;
  void MakeRoom(TimePoint now);

  PermanentFailureOptions options_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::string> order_;  // insertion order, for eviction
};

}  // namespace sluice::throttle

#endif  // SLUICE_SERVER_THROTTLE_PERMANENT_FAILURES_H_
