#include "server/queue/claim_batcher.h"

#include <glog/logging.h>

#include <algorithm>
#include <chrono>

namespace sluice {
namespace {

// Both sorted, without duplicates.
bool Overlap(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  auto i = a.begin();
  auto j = b.begin();
  while (i != a.end() && j != b.end()) {
    if (*i == *j) return true;
    if (*i < *j) {
      ++i;
    } else {
      ++j;
    }
  }
  return false;
}

}  // namespace

bool ClaimBatcher::MayLead(const Claimer* c) const {
  if (leaders_ >= max_leaders_) return false;
  for (const Claimer* w : waiting_) {
    const bool free = std::none_of(claiming_.begin(), claiming_.end(),
                                   [&](const auto* k) { return Overlap(*k, *w->kinds); });
    if (free) return w == c;
  }
  return false;
}

absl::StatusOr<std::vector<LeasedTask>> ClaimBatcher::Claim(const std::vector<std::string>& kinds,
                                                            const ClaimSlot& slot) {
  Claimer self;
  self.kinds = &kinds;
  self.slot = &slot;
  std::unique_lock<std::mutex> lock(mu_);
  waiting_.push_back(&self);
  self.cv.wait(lock, [&] { return self.done || (!self.taken && MayLead(&self)); });
  if (self.done) return std::move(self.result);

  // Leader: take the claimers of the same kinds queued behind us, in order,
  // while the group's total stays within max_tasks.
  std::vector<Claimer*> group;
  int total = 0;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    Claimer* c = *it;
    const bool same = c == &self || *c->kinds == kinds;
    if (same && (group.empty() || total + c->slot->limit <= max_tasks_)) {
      c->taken = true;
      total += c->slot->limit;
      group.push_back(c);
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  ++leaders_;
  claiming_.push_back(&kinds);
  // Another claimer may lead a group of its own if a slot is free and its
  // kinds are not being claimed.
  for (Claimer* w : waiting_) w->cv.notify_one();
  lock.unlock();

  std::vector<ClaimSlot> slots;
  slots.reserve(group.size());
  for (Claimer* c : group) slots.push_back(*c->slot);
  const auto started = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<std::vector<LeasedTask>>> results = claim_(kinds, slots);
  VLOG(1) << "group claim of " << total << " task(s) for " << group.size() << " claimer(s) took "
          << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                 .count()
          << " ms";
  if (results.ok() && results->size() != group.size()) {
    results = absl::InternalError("claim returned " + std::to_string(results->size()) +
                                  " slots for " + std::to_string(group.size()) + " claimers");
  }

  lock.lock();
  --leaders_;
  claiming_.erase(std::find(claiming_.begin(), claiming_.end(), &kinds));
  for (size_t i = 0; i < group.size(); ++i) {
    if (results.ok()) {
      group[i]->result = std::move((*results)[i]);
    } else {
      group[i]->result = results.status();
    }
    group[i]->done = true;
    if (group[i] != &self) group[i]->cv.notify_one();
  }
  for (Claimer* w : waiting_) w->cv.notify_one();
  return std::move(self.result);
}

}  // namespace sluice
