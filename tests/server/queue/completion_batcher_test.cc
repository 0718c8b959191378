// CompletionBatcher without a database: callers queued behind a group being
// committed commit together, whole, up to max_batch completions, and each
// gets the answers to its own completions in order; a completion the
// database refuses fails alone, not its group's other callers.
#include "server/queue/completion_batcher.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace sluice {
namespace {

// A commit function that blocks its first call until released, so callers
// arriving meanwhile queue up behind it, and records the task ids of every
// transaction it runs. A transaction holding a task in `refused` fails whole
// (the database rolled it back), as a row the database refuses does.
class GatedCommits {
 public:
  std::vector<absl::StatusOr<CompletionOutcome>> Run(const std::vector<const Completion*>& batch) {
    std::unique_lock<std::mutex> lock(mu_);
    std::vector<int64_t> ids;
    for (const Completion* c : batch) ids.push_back(c->task_id);
    transactions_.push_back(ids);
    const bool first = transactions_.size() == 1;
    entered_.notify_all();
    if (first) released_cv_.wait(lock, [&] { return released_; });
    for (int64_t id : ids) {
      if (refused_.count(id) != 0) {
        return std::vector<absl::StatusOr<CompletionOutcome>>(
            batch.size(), absl::InternalError("task " + std::to_string(id) + " refused"));
      }
    }
    std::vector<absl::StatusOr<CompletionOutcome>> out;
    for (int64_t id : ids) {
      CompletionOutcome o;
      o.records_written = static_cast<int>(id);  // which completion this answers
      out.push_back(o);
    }
    return out;
  }

  void WaitForTransactions(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    entered_.wait(lock, [&] { return transactions_.size() >= n; });
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    released_cv_.notify_all();
  }
  void Refuse(int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    refused_.insert(id);
  }
  std::vector<std::vector<int64_t>> transactions() {
    std::lock_guard<std::mutex> lock(mu_);
    return transactions_;
  }

 private:
  std::mutex mu_;
  std::condition_variable entered_;
  std::condition_variable released_cv_;
  bool released_ = false;
  std::set<int64_t> refused_;
  std::vector<std::vector<int64_t>> transactions_;
};

CompletionBatcher::CommitFn Through(GatedCommits* commits) {
  return [commits](const std::vector<const Completion*>& batch, TimePoint, TimePoint) {
    return commits->Run(batch);
  };
}

void WaitQueued(CompletionBatcher* batcher, int n) {
  while (batcher->queued() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

// An agent's CompleteTasks batch of the given task ids.
struct Caller {
  explicit Caller(std::vector<int64_t> ids) {
    for (int64_t id : ids) {
      Completion c;
      c.task_id = id;
      c.fencing_token = 1;
      completions.push_back(c);
    }
    for (const Completion& c : completions) batch.push_back(&c);
  }
  std::thread Start(CompletionBatcher* batcher) {
    return std::thread([this, batcher] {
      results = batcher->CommitAll(batch, FromUnixSeconds(1800000000), FromUnixSeconds(1799996400));
    });
  }
  std::vector<Completion> completions;
  std::vector<const Completion*> batch;
  std::vector<absl::StatusOr<CompletionOutcome>> results;
};

void ExpectAnswersOwn(const Caller& c) {
  ASSERT_EQ(c.results.size(), c.completions.size());
  for (size_t i = 0; i < c.results.size(); ++i) {
    ASSERT_TRUE(c.results[i].ok()) << c.results[i].status();
    EXPECT_EQ(c.results[i]->records_written, c.completions[i].task_id);
  }
}

TEST(CompletionBatcherTest, BatchesQueuedBehindAGroupCommitInOneTransactionEachWithItsOwnAnswers) {
  GatedCommits commits;
  CompletionBatcher batcher(Through(&commits), 1000, /*max_leaders=*/1);
  Caller lead({1}), a({11, 12, 13}), b({21, 22});
  std::thread t0 = lead.Start(&batcher);
  commits.WaitForTransactions(1);  // the leader is inside its commit
  std::thread t1 = a.Start(&batcher);
  WaitQueued(&batcher, 1);
  std::thread t2 = b.Start(&batcher);
  Completion single;
  single.task_id = 31;
  single.fencing_token = 1;
  absl::StatusOr<CompletionOutcome> single_result;
  WaitQueued(&batcher, 2);
  std::thread t3([&] {
    single_result =
        batcher.Commit(single, FromUnixSeconds(1800000000), FromUnixSeconds(1799996400));
  });
  WaitQueued(&batcher, 3);
  commits.Release();
  for (auto* t : {&t0, &t1, &t2, &t3}) t->join();

  EXPECT_EQ(commits.transactions(),
            (std::vector<std::vector<int64_t>>{{1}, {11, 12, 13, 21, 22, 31}}));
  ExpectAnswersOwn(lead);
  ExpectAnswersOwn(a);
  ExpectAnswersOwn(b);
  ASSERT_TRUE(single_result.ok()) << single_result.status();
  EXPECT_EQ(single_result->records_written, 31);
}

TEST(CompletionBatcherTest, AGroupTakesWholeBatchesUpToItsSizeAndALargerBatchCommitsAlone) {
  GatedCommits commits;
  CompletionBatcher batcher(Through(&commits), /*max_batch=*/5, /*max_leaders=*/1);
  Caller lead({1}), a({11, 12, 13}), b({21, 22, 23}), c({31, 32, 33, 34, 35, 36, 37});
  std::thread t0 = lead.Start(&batcher);
  commits.WaitForTransactions(1);
  std::thread t1 = a.Start(&batcher);
  WaitQueued(&batcher, 1);
  std::thread t2 = b.Start(&batcher);  // 3 + 3 > 5: not split, the next group
  WaitQueued(&batcher, 2);
  std::thread t3 = c.Start(&batcher);  // 7 > 5: alone
  WaitQueued(&batcher, 3);
  commits.Release();
  for (auto* t : {&t0, &t1, &t2, &t3}) t->join();

  EXPECT_EQ(commits.transactions(),
            (std::vector<std::vector<int64_t>>{
                {1}, {11, 12, 13}, {21, 22, 23}, {31, 32, 33, 34, 35, 36, 37}}));
  for (const Caller* x : {&lead, &a, &b, &c}) ExpectAnswersOwn(*x);
}

TEST(CompletionBatcherTest, ACompletionTheDatabaseRefusesFailsAloneNotTheOtherBatchesOfItsGroup) {
  GatedCommits commits;
  CompletionBatcher batcher(Through(&commits), 1000, /*max_leaders=*/1);
  commits.Refuse(22);
  Caller lead({1}), a({11, 12}), b({21, 22, 23});
  std::thread t0 = lead.Start(&batcher);
  commits.WaitForTransactions(1);
  std::thread t1 = a.Start(&batcher);
  WaitQueued(&batcher, 1);
  std::thread t2 = b.Start(&batcher);
  WaitQueued(&batcher, 2);
  commits.Release();
  for (auto* t : {&t0, &t1, &t2}) t->join();

  ExpectAnswersOwn(lead);
  ExpectAnswersOwn(a);
  ASSERT_EQ(b.results.size(), 3u);
  EXPECT_TRUE(b.results[0].ok());
  EXPECT_EQ(b.results[1].status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(b.results[1].status().message().find("task 22 refused"), std::string::npos);
  EXPECT_TRUE(b.results[2].ok());
  // The group failed whole first; then its parts were committed apart.
  const auto transactions = commits.transactions();
  ASSERT_GE(transactions.size(), 3u);
  EXPECT_EQ(transactions[1], (std::vector<int64_t>{11, 12, 21, 22, 23}));
}

}  // namespace
}  // namespace sluice
