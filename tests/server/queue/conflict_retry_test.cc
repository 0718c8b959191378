// CommitIsolatingFailures without a database: a group the database refuses
// whole is committed again in halves until the refused completion is alone,
// so its neighbours commit and the cost grows with log n, not n.
#include "server/queue/conflict_retry.h"

#include <gtest/gtest.h>

#include <set>

namespace sluice {
namespace {

// A transaction holding a task in `refused` fails whole with INTERNAL (the
// database rolled it back); tasks in `stale` are answered FAILED_PRECONDITION
// before the transaction, as a stale fencing token is.
struct FakeDatabase {
  std::set<int64_t> refused, stale;
  int transactions = 0;
  std::vector<absl::StatusOr<CompletionOutcome>> Commit(const std::vector<const Completion*>& b) {
    ++transactions;
    std::vector<absl::StatusOr<CompletionOutcome>> out;
    bool rolled_back = false;
    for (const Completion* c : b) rolled_back |= refused.count(c->task_id) != 0;
    for (const Completion* c : b) {
      if (stale.count(c->task_id) != 0) {
        out.push_back(absl::FailedPreconditionError("stale token"));
      } else if (rolled_back) {
        out.push_back(absl::InternalError("transaction refused"));
      } else {
        CompletionOutcome o;
        o.records_written = static_cast<int>(c->task_id);
        out.push_back(o);
      }
    }
    return out;
  }
};

std::vector<Completion> Tasks(int n) {
  std::vector<Completion> out(n);
  for (int i = 0; i < n; ++i) {
    out[i].task_id = i + 1;
    out[i].fencing_token = 1;
  }
  return out;
}

TEST(ConflictRetryTest, ARefusedCompletionAmongManyIsFoundInLogarithmicallyManyTransactions) {
  std::vector<Completion> tasks = Tasks(512);
  std::vector<const Completion*> batch;
  for (const Completion& c : tasks) batch.push_back(&c);
  FakeDatabase db;
  db.refused = {300};
  db.stale = {7};
  auto results = CommitIsolatingFailures(
      batch, [&](const std::vector<const Completion*>& b) { return db.Commit(b); });
  ASSERT_EQ(results.size(), 512u);
  for (int i = 0; i < 512; ++i) {
    const int64_t id = i + 1;
    if (id == 300) {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kInternal);
    } else if (id == 7) {
      EXPECT_EQ(results[i].status().code(), absl::StatusCode::kFailedPrecondition);
    } else {
      ASSERT_TRUE(results[i].ok()) << id << ": " << results[i].status();
      EXPECT_EQ(results[i]->records_written, id);
    }
  }
  // The whole group, then two halves per level down to the refused one:
  // 1 + 2 * log2(512) = 19 (one at a time would take 1 + 511).
  EXPECT_LE(db.transactions, 19);
}

TEST(ConflictRetryTest, EveryCompletionRefusedEndsWithEachCommittedAlone) {
  std::vector<Completion> tasks = Tasks(5);
  std::vector<const Completion*> batch;
  for (const Completion& c : tasks) batch.push_back(&c);
  FakeDatabase db;
  db.refused = {1, 2, 3, 4, 5};
  auto results = CommitIsolatingFailures(
      batch, [&](const std::vector<const Completion*>& b) { return db.Commit(b); });
  ASSERT_EQ(results.size(), 5u);
  for (const auto& r : results) EXPECT_EQ(r.status().code(), absl::StatusCode::kInternal);
  EXPECT_LE(db.transactions, 1 + 2 * 5);
}

}  // namespace
}  // namespace sluice
