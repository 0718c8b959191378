// ClaimBatcher turns concurrent LeaseTasks calls into group claims, as
// CompletionBatcher does for completions: claimers queue up; the one at the
// front becomes the leader, takes every claimer queued behind it that asks
// for the same kinds (up to max_tasks in all), and runs one claim for the
// whole group, which ranks the queue once and hands each claimer its own
// slice, the first in line the most urgent. At most max_leaders groups run
// at once: instead of every LeaseTasks call ranking the same top of the
// queue and racing for it (each losing claim re-ranking, wider), a few
// groups do, and a group that starts while another holds the top rows
// takes the next ones (sluice_claim's SKIP LOCKED). Claimers asking for
// other kinds wait for a group of their own. Alone, a claim runs at once
// with no added delay.
//
// Ownership: owns nothing; the claim function must outlive the batcher.
// Thread-safety: Claim is safe from any thread.
#ifndef SLUICE_SERVER_QUEUE_CLAIM_BATCHER_H_
#define SLUICE_SERVER_QUEUE_CLAIM_BATCHER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/queue/queue_types.h"

namespace sluice {

class ClaimBatcher {
 public:
  // Runs one group claim (QueueStore::Claim): one result per slot, in order.
  using ClaimFn = std::function<absl::StatusOr<std::vector<std::vector<LeasedTask>>>(
      const std::vector<std::string>& kinds, const std::vector<ClaimSlot>& slots)>;

  // max_tasks: at most this many tasks per group (a lone claim larger than
  // that still runs, alone).
  ClaimBatcher(ClaimFn claim, int max_tasks, int max_leaders)
      : claim_(std::move(claim)), max_tasks_(max_tasks), max_leaders_(max_leaders) {}

  // Leases up to slot.limit tasks of `kinds` (sorted, no duplicates) for
  // slot.agent_id. An error of the group's claim is every member's error.
  absl::StatusOr<std::vector<LeasedTask>> Claim(const std::vector<std::string>& kinds,
                                                const ClaimSlot& slot);

  // Claimers waiting for a group (tests, metrics).
  int queued() {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(waiting_.size());
  }

 private:
  struct Claimer {
    const std::vector<std::string>* kinds;
    const ClaimSlot* slot;
    absl::StatusOr<std::vector<LeasedTask>> result;
    bool taken = false;
    bool done = false;
    std::condition_variable cv;
  };

  const ClaimFn claim_;
  const int max_tasks_;
  const int max_leaders_;
  std::mutex mu_;
  std::deque<Claimer*> waiting_;  // not yet taken; guarded by mu_
  int leaders_ = 0;               // groups being claimed; guarded by mu_
};

}  // namespace sluice

#endif  // SLUICE_SERVER_QUEUE_CLAIM_BATCHER_H_
