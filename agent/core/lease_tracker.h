// LeaseTracker knows every task lease this agent holds (queued or running)
// and which of them need ExtendLease: a task still held past half its lease
// duration gets extended, so slow upstreams or a long wait for rate tokens do
// not let the coordinator hand the task to another agent mid-flight.
//
// Leases are keyed by (task_id, fencing_token): after a lapse the same task
// can come back to this agent under a new token.
//
// Thread-safety: all methods are safe from any thread.
#ifndef SLUICE_AGENT_CORE_LEASE_TRACKER_H_
#define SLUICE_AGENT_CORE_LEASE_TRACKER_H_

#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "sluice/v1/agent.pb.h"

namespace sluice::agent {

class LeaseTracker {
 public:
  struct Lease {
    int64_t task_id = 0;
    int64_t fencing_token = 0;
    TimePoint locked_until;
  };

  void Add(const sluice::v1::Task& task);
  void Remove(const sluice::v1::Task& task);
  // Leases ending within lease_duration / 2 of `now`, not known lost.
  std::vector<Lease> DueForExtension(TimePoint now, Duration lease_duration) const;
  void Extended(const Lease& lease, TimePoint locked_until);
  // The coordinator said the lease is gone; the task must not be worked on.
  void MarkLost(const Lease& lease);
  bool IsLost(const sluice::v1::Task& task) const;
  size_t size() const;

 private:
  using Key = std::pair<int64_t, int64_t>;
  struct Entry {
    TimePoint locked_until;
    bool lost = false;
  };

  mutable std::mutex mu_;
  std::map<Key, Entry> leases_;
};

}  // namespace sluice::agent

#endif  // SLUICE_AGENT_CORE_LEASE_TRACKER_H_
