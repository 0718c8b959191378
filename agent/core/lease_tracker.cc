#include "agent/core/lease_tracker.h"

#include "common/time_util.h"

namespace sluice::agent {

void LeaseTracker::Add(const sluice::v1::Task& task) {
  std::lock_guard<std::mutex> lock(mu_);
  leases_[{task.task_id(), task.fencing_token()}] = Entry{FromProto(task.locked_until()), false};
}

void LeaseTracker::Remove(const sluice::v1::Task& task) {
  std::lock_guard<std::mutex> lock(mu_);
  leases_.erase({task.task_id(), task.fencing_token()});
}

std::vector<LeaseTracker::Lease> LeaseTracker::DueForExtension(TimePoint now,
                                                               Duration lease_duration) const {
  std::vector<Lease> due;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, entry] : leases_) {
    if (entry.lost) continue;
    if (entry.locked_until - now < lease_duration / 2) {
      due.push_back(Lease{key.first, key.second, entry.locked_until});
    }
  }
  return due;
}

void LeaseTracker::Extended(const Lease& lease, TimePoint locked_until) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = leases_.find({lease.task_id, lease.fencing_token});
  if (it != leases_.end()) it->second.locked_until = locked_until;
}

void LeaseTracker::MarkLost(const Lease& lease) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = leases_.find({lease.task_id, lease.fencing_token});
  if (it != leases_.end()) it->second.lost = true;
}

bool LeaseTracker::IsLost(const sluice::v1::Task& task) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = leases_.find({task.task_id(), task.fencing_token()});
  return it != leases_.end() && it->second.lost;
}

size_t LeaseTracker::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return leases_.size();
}

}  // namespace sluice::agent
