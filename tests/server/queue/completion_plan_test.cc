// CompletionPlan decides a group commit without a database: which
// completions go in, what a 304 replays, how discoveries group, what is
// requeued, and whose result counts the queued tasks.
#include "server/queue/completion_plan.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

using std::chrono::seconds;

const TimePoint kNow = TimePoint(seconds(1'800'000'000));

class CompletionPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(kinds_.Register({"corporation", "corporation_static", "corporation_id"}).ok());
    ASSERT_TRUE(kinds_.Register({"character", "character_static", "character_id"}).ok());
    ASSERT_TRUE(kinds_.Register({"stream", "", "", true}).ok());
  }

  static Completion Done(int64_t task_id, int64_t token) {
    Completion c;
    c.task_id = task_id;
    c.fencing_token = token;
    c.etag = "\"e\"";
    return c;
  }

  static LockedTask Locked(int64_t task_id, int64_t token, const std::string& kind,
                           int priority = 5, int64_t weight = 1) {
    LockedTask t;
    t.task_id = task_id;
    t.fencing_token = token;
    t.kind = kind;
    t.entity_id = task_id * 10;
    t.priority = priority;
    t.weight = weight;
    return t;
  }

  // Kinds named "stream" have an extension.
  static bool HasExtension(const std::string& kind) { return kind == "stream"; }

  TaskKindRegistry kinds_;
};

TEST_F(CompletionPlanTest, StaleTokenAndSecondCompletionOfATaskAreRefused) {
  Completion good = Done(1, 7), stale = Done(2, 99), twice = Done(1, 7);
  std::vector<const Completion*> batch = {&good, &stale, &twice};
  CompletionPlan plan(batch, {Locked(1, 7, "corporation"), Locked(2, 8, "corporation")}, kinds_,
                      HasExtension);
  ASSERT_EQ(plan.admitted().size(), 1u);
  EXPECT_EQ(plan.admitted()[0].index, 0u);
  plan.Finish(kNow);
  EXPECT_EQ(plan.done(), std::vector<int64_t>{1});
  auto results = plan.TakeResults();
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CompletionPlanTest, PayloadForAKindWithoutExtensionIsInvalid) {
  Completion c = Done(1, 1);
  c.payload = Payload{"type.googleapis.com/x.Y", "v"};
  std::vector<const Completion*> batch = {&c};
  CompletionPlan plan(batch, {Locked(1, 1, "corporation")}, kinds_, HasExtension);
  EXPECT_TRUE(plan.admitted().empty());
  plan.Finish(kNow);
  EXPECT_TRUE(plan.empty());
  EXPECT_EQ(plan.TakeResults()[0].status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CompletionPlanTest, NotModifiedReplaysLastDiscoveriesAndKeepsStoredList) {
  Completion c = Done(1, 1);
  c.not_modified = true;
  LockedTask t = Locked(1, 1, "corporation", 3);
  t.last_discovered = {{"character", {5, 6}, false}};
  std::vector<const Completion*> batch = {&c};
  CompletionPlan plan(batch, {t}, kinds_, HasExtension);
  plan.Finish(kNow);
  ASSERT_EQ(plan.discoveries().size(), 1u);
  EXPECT_EQ(plan.discoveries()[0].kind, "character");
  EXPECT_EQ(plan.discoveries()[0].priority, 3) << "discoveries inherit the task's priority";
  EXPECT_EQ(plan.discoveries()[0].ids, (std::vector<int64_t>{5, 6}));
  ASSERT_EQ(plan.cache().size(), 1u);
  EXPECT_FALSE(plan.cache()[0].discovered.has_value()) << "a 304 must keep the stored list";
  ASSERT_EQ(plan.not_modified().size(), 1u);
  EXPECT_EQ(plan.not_modified().begin()->second, std::vector<int64_t>{10});
}

TEST_F(CompletionPlanTest, FullAnswerRecordsItsDiscoveriesForTheNext304) {
  Completion c = Done(1, 1);
  c.discovered = {{"character", {5}, false}};
  std::vector<const Completion*> batch = {&c};
  CompletionPlan plan(batch, {Locked(1, 1, "corporation")}, kinds_, HasExtension);
  plan.Finish(kNow);
  ASSERT_TRUE(plan.cache()[0].discovered.has_value());
  EXPECT_EQ(plan.cache()[0].discovered->size(), 1u);
  EXPECT_TRUE(plan.not_modified().empty());
}

TEST_F(CompletionPlanTest, AccessesHeldOnTheTaskCarryToTheEntity) {
  Completion c = Done(1, 1);
  std::vector<const Completion*> batch = {&c};
  CompletionPlan plan(batch, {Locked(1, 1, "corporation", 7, /*weight=*/4)}, kinds_, HasExtension);
  plan.Finish(kNow);
  ASSERT_EQ(plan.access_carry().size(), 1u);
  EXPECT_EQ(plan.access_carry()[0].accesses, 3);
  EXPECT_EQ(plan.access_carry()[0].entity_id, 10);
}

TEST_F(CompletionPlanTest, DiscoveriesGroupByKindPriorityAndForce) {
  Completion a = Done(1, 1), b = Done(2, 2), c = Done(3, 3);
  a.discovered = {{"character", {1, 2}, false}, {"character", {9}, true}};
  b.discovered = {{"character", {3}, false}};
  c.discovered = {{"character", {4}, false}};
  std::vector<const Completion*> batch = {&a, &b, &c};
  CompletionPlan plan(batch,
                      {Locked(1, 1, "corporation", 5), Locked(2, 2, "corporation", 5),
                       Locked(3, 3, "corporation", 7)},
                      kinds_, HasExtension);
  plan.Finish(kNow);
  ASSERT_EQ(plan.discoveries().size(), 3u);
  EXPECT_EQ(plan.discoveries()[0].ids, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_TRUE(plan.discoveries()[1].force);
  EXPECT_EQ(plan.discoveries()[2].priority, 7);
  // Inserted tasks are credited to the first completion of the group with
  // the same kind, force and priority.
  plan.CreditQueued(0, 3);
  plan.CreditQueued(1, 1);
  plan.CreditQueued(2, 1);
  auto results = plan.TakeResults();
  EXPECT_EQ(results[0]->tasks_queued, 4);
  EXPECT_EQ(results[1]->tasks_queued, 0);
  EXPECT_EQ(results[2]->tasks_queued, 1) << "the priority-7 group belongs to the third";
}

TEST_F(CompletionPlanTest, ExtensionOutcomesRequeueRejectOrFail) {
  Completion keep = Done(1, 1), refuse = Done(2, 2), bad = Done(3, 3), never = Done(4, 4);
  std::vector<const Completion*> batch = {&keep, &refuse, &bad, &never};
  CompletionPlan plan(batch,
                      {Locked(1, 1, "stream"), Locked(2, 2, "stream"), Locked(3, 3, "stream"),
                       Locked(4, 4, "stream")},
                      kinds_, HasExtension);
  ASSERT_EQ(plan.admitted().size(), 4u);
  PayloadOutcome next_page;
  next_page.records_written = 12;
  next_page.requeue_after = Duration::zero();
  plan.SetPayloadOutcome(0, next_page);
  PayloadOutcome rewind;
  rewind.rejection = absl::FailedPreconditionError("rewind");
  rewind.requeue_after = seconds(30);
  plan.SetPayloadOutcome(1, rewind);
  plan.SetPayloadOutcome(2, absl::InvalidArgumentError("payload: bad"));
  plan.Finish(kNow);

  EXPECT_TRUE(plan.done().empty()) << "stream tasks are kept, never deleted";
  ASSERT_EQ(plan.requeued().size(), 2u);
  EXPECT_EQ(plan.requeued()[0].ready_at, kNow);
  EXPECT_EQ(plan.requeued()[1].ready_at, kNow + seconds(30)) << "a refusal still requeues";
  EXPECT_EQ(plan.cache().size(), 1u) << "only the accepted page updates the cache";
  auto results = plan.TakeResults();
  ASSERT_TRUE(results[0].ok());
  EXPECT_EQ(results[0]->records_written, 12);
  EXPECT_TRUE(results[0]->requeued_now);
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(results[3].status().code(), absl::StatusCode::kInternal)
      << "an admitted payload that was never applied must not pass silently";
}

}  // namespace
}  // namespace sluice
