// ClaimBatcher without a database: concurrent claimers of the same kinds
// share one group claim and each gets its own slice; other kinds get a group
// of their own, claimed alongside unless it shares a kind with a group being
// claimed; an error reaches every member of the group.
#include "server/queue/claim_batcher.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace sluice {
namespace {

// A claim function that blocks its first call until released, so claimers
// arriving meanwhile queue up behind it, and records every group it runs.
class GatedClaims {
 public:
  absl::StatusOr<std::vector<std::vector<LeasedTask>>> Run(const std::vector<std::string>& kinds,
                                                           const std::vector<ClaimSlot>& slots) {
    std::unique_lock<std::mutex> lock(mu_);
    groups_.push_back({kinds, slots});
    const bool first = groups_.size() == 1;
    entered_.notify_all();
    if (first) released_cv_.wait(lock, [&] { return released_; });
    if (!error_.ok()) return error_;
    std::vector<std::vector<LeasedTask>> out;
    for (const ClaimSlot& slot : slots) {
      std::vector<LeasedTask> tasks;
      for (int i = 0; i < slot.limit; ++i) {
        LeasedTask t;
        t.task_id = ++next_id_;
        t.kind = kinds[0];
        tasks.push_back(t);
      }
      out.push_back(std::move(tasks));
    }
    return out;
  }

  void WaitForGroups(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    entered_.wait(lock, [&] { return groups_.size() >= n; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    released_cv_.notify_all();
  }
  void Fail(absl::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    error_ = std::move(s);
  }
  std::vector<std::pair<std::vector<std::string>, std::vector<ClaimSlot>>> groups() {
    std::lock_guard<std::mutex> lock(mu_);
    return groups_;
  }

 private:
  std::mutex mu_;
  std::condition_variable entered_;
  std::condition_variable released_cv_;
  bool released_ = false;
  absl::Status error_;
  int64_t next_id_ = 0;
  std::vector<std::pair<std::vector<std::string>, std::vector<ClaimSlot>>> groups_;
};

void WaitQueued(ClaimBatcher* batcher, int n) {
  while (batcher->queued() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

ClaimSlot Slot(int limit, const std::string& agent) {
  return ClaimSlot{limit, FromUnixSeconds(1800000060), agent};
}

// Starts a claimer thread; its result lands in *out.
std::thread Claimer(ClaimBatcher* batcher, std::vector<std::string> kinds, ClaimSlot slot,
                    absl::StatusOr<std::vector<LeasedTask>>* out) {
  return std::thread([=] { *out = batcher->Claim(kinds, slot); });
}

TEST(ClaimBatcherTest, ClaimersQueuedBehindALeaderShareOneGroupClaim) {
  GatedClaims claims;
  ClaimBatcher batcher([&](auto& k, auto& s) { return claims.Run(k, s); }, 5000,
                       /*max_leaders=*/1);
  absl::StatusOr<std::vector<LeasedTask>> first, a, b, c;
  std::thread t0 = Claimer(&batcher, {"character"}, Slot(1, "lead"), &first);
  claims.WaitForGroups(1);  // the leader is inside its claim
  std::thread t1 = Claimer(&batcher, {"character"}, Slot(3, "a"), &a);
  std::thread t2 = Claimer(&batcher, {"character"}, Slot(2, "b"), &b);
  std::thread t3 = Claimer(&batcher, {"character"}, Slot(4, "c"), &c);
  WaitQueued(&batcher, 3);  // all three behind the leader
  claims.Release();
  for (auto* t : {&t0, &t1, &t2, &t3}) t->join();

  auto groups = claims.groups();
  ASSERT_EQ(groups.size(), 2u) << "the three waiting claimers form one group";
  ASSERT_EQ(groups[1].second.size(), 3u);
  std::multiset<std::string> agents;
  for (const ClaimSlot& s : groups[1].second) agents.insert(s.agent_id);
  EXPECT_EQ(agents, (std::multiset<std::string>{"a", "b", "c"}));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok() && first.ok());
  EXPECT_EQ(a->size(), 3u);
  EXPECT_EQ(b->size(), 2u);
  EXPECT_EQ(c->size(), 4u);
  std::set<int64_t> ids;
  for (auto* r : {&first, &a, &b, &c}) {
    for (const LeasedTask& t : **r) EXPECT_TRUE(ids.insert(t.task_id).second) << t.task_id;
  }
}

TEST(ClaimBatcherTest, OtherKindsAndOversizedGroupsWaitForAGroupOfTheirOwn) {
  GatedClaims claims;
  ClaimBatcher batcher([&](auto& k, auto& s) { return claims.Run(k, s); }, /*max_tasks=*/5,
                       /*max_leaders=*/1);
  absl::StatusOr<std::vector<LeasedTask>> first, chars1, corps, chars2;
  std::thread t0 = Claimer(&batcher, {"character"}, Slot(1, "lead"), &first);
  claims.WaitForGroups(1);
  std::thread t1 = Claimer(&batcher, {"character"}, Slot(3, "c1"), &chars1);
  WaitQueued(&batcher, 1);
  std::thread t2 = Claimer(&batcher, {"corporation"}, Slot(3, "corp"), &corps);
  WaitQueued(&batcher, 2);
  std::thread t3 = Claimer(&batcher, {"character"}, Slot(3, "c2"), &chars2);  // 3 + 3 > 5
  WaitQueued(&batcher, 3);
  claims.Release();
  for (auto* t : {&t0, &t1, &t2, &t3}) t->join();

  auto groups = claims.groups();
  ASSERT_EQ(groups.size(), 4u);
  for (size_t i = 1; i < groups.size(); ++i) {
    EXPECT_EQ(groups[i].second.size(), 1u) << "group " << i;
  }
  ASSERT_TRUE(corps.ok());
  EXPECT_EQ(corps->front().kind, "corporation");
  ASSERT_TRUE(chars1.ok() && chars2.ok());
  EXPECT_EQ(chars2->front().kind, "character");
}

TEST(ClaimBatcherTest, GroupsOfSharedKindsWaitWhileDisjointKindsClaimAlongside) {
  GatedClaims claims;
  ClaimBatcher batcher([&](auto& k, auto& s) { return claims.Run(k, s); }, 5000,
                       /*max_leaders=*/2);
  absl::StatusOr<std::vector<LeasedTask>> first, overlapping, disjoint;
  std::thread t0 = Claimer(&batcher, {"character"}, Slot(1, "lead"), &first);
  claims.WaitForGroups(1);  // the first group holds "character"
  std::thread t1 = Claimer(&batcher, {"character", "corporation"}, Slot(2, "both"), &overlapping);
  WaitQueued(&batcher, 1);
  std::thread t2 = Claimer(&batcher, {"alliance"}, Slot(3, "other"), &disjoint);
  claims.WaitForGroups(2);  // "alliance" claims beside the first group...
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // ...while the group that shares "character" still waits, first in line.
  EXPECT_EQ(claims.groups().size(), 2u);
  EXPECT_EQ(batcher.queued(), 1);
  EXPECT_EQ(claims.groups()[1].first, std::vector<std::string>{"alliance"});
  claims.Release();
  for (auto* t : {&t0, &t1, &t2}) t->join();

  auto groups = claims.groups();
  ASSERT_EQ(groups.size(), 3u);
  EXPECT_EQ(groups[2].first, (std::vector<std::string>{"character", "corporation"}));
  ASSERT_TRUE(first.ok() && overlapping.ok() && disjoint.ok());
  EXPECT_EQ(overlapping->size(), 2u);
  EXPECT_EQ(disjoint->size(), 3u);
}

TEST(ClaimBatcherTest, AGroupsErrorReachesEveryMember) {
  GatedClaims claims;
  ClaimBatcher batcher([&](auto& k, auto& s) { return claims.Run(k, s); }, 5000,
                       /*max_leaders=*/1);
  absl::StatusOr<std::vector<LeasedTask>> first, a, b;
  std::thread t0 = Claimer(&batcher, {"character"}, Slot(1, "lead"), &first);
  claims.WaitForGroups(1);
  std::thread t1 = Claimer(&batcher, {"character"}, Slot(1, "a"), &a);
  std::thread t2 = Claimer(&batcher, {"character"}, Slot(1, "b"), &b);
  WaitQueued(&batcher, 2);
  claims.Fail(absl::UnavailableError("database down"));
  claims.Release();
  for (auto* t : {&t0, &t1, &t2}) t->join();
  for (auto* r : {&first, &a, &b}) {
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->status().code(), absl::StatusCode::kUnavailable);
  }
}

}  // namespace
}  // namespace sluice
