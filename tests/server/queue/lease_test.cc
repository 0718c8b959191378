// Leases: expiry makes a task claimable again, fencing tokens reject stale
// holders, extensions keep a task, and two agents never both commit a task.
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "server/store/queue_sql.h"
#include "tests/server/queue/queue_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

class LeaseTest : public QueueFixture {};

TEST_F(LeaseTest, ExpiredLeaseIsClaimableAgain) {
  ASSERT_TRUE(queue_->Enqueue("character", {7}, Priority::kManual).ok());
  auto first = LeaseOrDie({"character"}, 10, "agent-a", seconds(30));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(LeaseOrDie({"character"}, 10, "agent-b").empty())
      << "leased task was handed out twice";
  clock_.Advance(seconds(29));
  EXPECT_TRUE(LeaseOrDie({"character"}, 10, "agent-b").empty());
  clock_.Advance(seconds(2));
  auto second = LeaseOrDie({"character"}, 10, "agent-b");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].task_id, first[0].task_id);
  EXPECT_GT(second[0].fencing_token, first[0].fencing_token);
}

TEST_F(LeaseTest, ALapsedLeaseAnotherTransactionHoldsIsPromotedByALaterClaim) {
  // A promotion skips rows another transaction holds (a late completion of
  // the lapsed lease, say) rather than wait; the store's due index must
  // keep them, or the task would never be handed out again.
  ASSERT_TRUE(queue_->Enqueue("character", {7}, Priority::kManual).ok());
  auto first = LeaseOrDie({"character"}, 10, "agent-a", seconds(30));
  ASSERT_EQ(first.size(), 1u);
  clock_.Advance(seconds(31));
  pqxx::connection c(db_->dsn());
  pqxx::work hold(c);
  hold.exec("SELECT 1 FROM discovery_queue WHERE task_id = " + std::to_string(first[0].task_id) +
            " FOR UPDATE");
  EXPECT_TRUE(LeaseOrDie({"character"}, 10, "agent-b").empty()) << "held: skipped";
  hold.abort();
  auto second = LeaseOrDie({"character"}, 10, "agent-b");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].task_id, first[0].task_id);
}

TEST_F(LeaseTest, ALapsedLeaseCountsAnAttemptAndTheTaskEndsInDeadTasksWhenOutOfThem) {
  // A task that kills or hangs every agent taking it must not go round
  // forever: each lapse counts, as a reported failure would.
  options_.retry.max_attempts = 3;
  ResetQueue();
  ASSERT_TRUE(queue_->Enqueue("character", {7}, Priority::kManual).ok());
  for (int lapse = 0; lapse < 3; ++lapse) {
    SCOPED_TRACE(lapse);
    auto t = LeaseOrDie({"character"}, 10, "agent-" + std::to_string(lapse), seconds(30));
    ASSERT_EQ(t.size(), 1u);
    EXPECT_EQ(t[0].attempts, lapse);
    clock_.Advance(seconds(31));
  }
  // (agent-2's lapse is counted by the claim that finds it, below.)
  EXPECT_EQ(db_->Query("SELECT last_error FROM discovery_queue"),
            "lease lapsed: agent-1 neither reported the task nor handed it back");
  // Out of attempts: dead-lettered by the claim that finds it, not handed out.
  EXPECT_TRUE(LeaseOrDie({"character"}, 10, "agent-9").empty());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM dead_tasks WHERE entity_id = 7 AND error LIKE "
                       "'out of attempts: 3, the last of them leases that lapsed%'"),
            1);
  // A lease handed back or failed is not a lapse: no attempt beyond its own.
  ASSERT_TRUE(queue_->Enqueue("character", {8}, Priority::kManual).ok());
  auto t = LeaseOrDie({"character"}, 10, "agent-a", seconds(30));
  ASSERT_EQ(t.size(), 1u);
  Failure release;
  release.task_id = t[0].task_id;
  release.fencing_token = t[0].fencing_token;
  release.agent_id = "agent-a";
  release.release = true;
  ASSERT_TRUE(queue_->Fail(release).ok());
  clock_.Advance(seconds(1));
  t = LeaseOrDie({"character"}, 10, "agent-a", seconds(30));
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].attempts, 0);
}

TEST_F(LeaseTest, StaleFencingTokenIsRejectedAndWritesNothing) {
  ASSERT_TRUE(queue_->Enqueue("character", {7}, Priority::kManual).ok());
  auto first = LeaseOrDie({"character"}, 1, "agent-a", seconds(5));
  clock_.Advance(seconds(6));
  auto second = LeaseOrDie({"character"}, 1, "agent-b");
  ASSERT_EQ(second.size(), 1u);

  auto stale = queue_->Complete(DoneWith(first[0], "agent-a"));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition) << stale.status();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM character_static"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue"), 1);

  Failure f;
  f.task_id = first[0].task_id;
  f.fencing_token = first[0].fencing_token;
  auto stale_fail = queue_->Fail(f);
  EXPECT_EQ(stale_fail.status().code(), absl::StatusCode::kFailedPrecondition);
  auto stale_extend = queue_->Extend(first[0].task_id, first[0].fencing_token, seconds(30));
  EXPECT_EQ(stale_extend.status().code(), absl::StatusCode::kFailedPrecondition);

  auto ok = queue_->Complete(DoneWith(second[0], "agent-b"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM character_static"), 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue"), 0);
}

TEST_F(LeaseTest, ExtendKeepsTheTaskLeased) {
  ASSERT_TRUE(queue_->Enqueue("character", {7}, Priority::kManual).ok());
  auto t = LeaseOrDie({"character"}, 1, "agent-a", seconds(10));
  clock_.Advance(seconds(8));
  auto until = queue_->Extend(t[0].task_id, t[0].fencing_token, seconds(60));
  ASSERT_TRUE(until.ok()) << until.status();
  clock_.Advance(seconds(30));
  EXPECT_TRUE(LeaseOrDie({"character"}, 1, "agent-b").empty());
  EXPECT_TRUE(queue_->Complete(DoneWith(t[0], "agent-a")).ok());
}

TEST_F(LeaseTest, TwoAgentsNeverBothCommitOneTask) {
  // Many rounds of: a lease expires, a second agent takes the task, and both
  // agents race to complete it. Exactly one commit may win each round.
  std::vector<int64_t> ids;
  for (int i = 1; i <= 40; ++i) ids.push_back(i);
  ASSERT_TRUE(queue_->Enqueue("character", ids, Priority::kManual).ok());
  auto a = LeaseOrDie({"character"}, 40, "agent-a", seconds(5));
  ASSERT_EQ(a.size(), 40u);
  clock_.Advance(seconds(6));
  auto b = LeaseOrDie({"character"}, 40, "agent-b", seconds(30));
  ASSERT_EQ(b.size(), 40u);
  std::atomic<int> wins{0}, rejections{0};
  auto run = [&](const std::vector<LeasedTask>& tasks, const std::string& agent) {
    for (const auto& t : tasks) {
      auto r = queue_->Complete(DoneWith(t, agent));
      if (r.ok()) {
        ++wins;
      } else if (r.status().code() == absl::StatusCode::kFailedPrecondition) {
        ++rejections;
      } else {
        ADD_FAILURE() << r.status();
      }
    }
  };
  std::thread ta(run, a, "agent-a"), tb(run, b, "agent-b");
  ta.join();
  tb.join();
  EXPECT_EQ(wins.load(), 40);
  EXPECT_EQ(rejections.load(), 40);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM character_static"), 40);
}

TEST_F(LeaseTest, ConcurrentClaimsNeverShareATask) {
  std::vector<int64_t> ids;
  for (int i = 1; i <= 2000; ++i) ids.push_back(i);
  ASSERT_TRUE(queue_->Enqueue("character", ids, Priority::kManual).ok());
  std::mutex mu;
  std::set<int64_t> seen;
  std::atomic<int> dups{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < 6; ++w) {
    threads.emplace_back([&, w] {
      while (true) {
        auto got = queue_->Lease("agent-" + std::to_string(w), {"character"}, 37, seconds(60),
                                 Duration::zero());
        ASSERT_TRUE(got.ok()) << got.status();
        if (got->empty()) return;
        std::lock_guard<std::mutex> lock(mu);
        for (const auto& t : *got) {
          if (!seen.insert(t.task_id).second) ++dups;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(dups.load(), 0);
  EXPECT_EQ(seen.size(), 2000u);
}

TEST_F(LeaseTest, ConcurrentLeasesTogetherTakeTheMostUrgentEachUnderItsOwnAgent) {
  // 600 tasks of distinct urgency; eight callers lease 25 each at once. The
  // group claims rank the queue once: together they hold exactly the 200
  // most urgent, and each task is leased to the caller that got it.
  Exec(
      "INSERT INTO discovery_queue (kind, entity_id, priority, weight, last_modified, enqueued_at)"
      " SELECT 'character', g, 5, 1 + (g % 7), to_timestamp(1800000000 - g * 37), now()"
      " FROM generate_series(1, 600) g");
  std::mutex mu;
  std::map<int64_t, std::string> leased_to;
  std::vector<std::thread> threads;
  for (int w = 0; w < 8; ++w) {
    threads.emplace_back([&, w] {
      const std::string agent = "agent-" + std::to_string(w);
      auto got = queue_->Lease(agent, {"character"}, 25, seconds(60), Duration::zero());
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(got->size(), 25u);
      std::lock_guard<std::mutex> lock(mu);
      for (const auto& t : *got) EXPECT_TRUE(leased_to.emplace(t.task_id, agent).second);
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(leased_to.size(), 200u);
  const std::string top = db_->Query(
      "SELECT string_agg(task_id::text, ',' ORDER BY task_id) FROM ("
      " SELECT task_id FROM discovery_queue"
      " ORDER BY (1800000000 - EXTRACT(EPOCH FROM last_modified)) * weight DESC LIMIT 200) t");
  std::string held;
  for (const auto& [id, agent] : leased_to) held += (held.empty() ? "" : ",") + std::to_string(id);
  EXPECT_EQ(held, top);
  for (const auto& [id, agent] : leased_to) {
    EXPECT_EQ(
        db_->Query("SELECT leased_by FROM discovery_queue WHERE task_id = " + std::to_string(id)),
        agent);
  }
}

// A group claim of a hundred callers after autovacuum analyzed the queue
// while it had drained to 3 rows: the lease statement must still find its
// rows through the primary key. (Joined to the chosen ids, it had the
// planner hash the whole table for groups of about a hundred callers.)
TEST_F(LeaseTest, LeasingAGroupProbesOnlyItsRowsWhenTheStatisticsSayTheQueueIsEmpty) {
  QueueRefilledAfterAnAnalyzeOfItsLastRows(/*leased=*/false);
  std::vector<int64_t> ids, slots;
  pqxx::connection c(db_->dsn());
  pqxx::nontransaction nt(c);
  for (const auto& row : nt.exec("SELECT task_id FROM discovery_queue WHERE entity_id > 100000 "
                                 "ORDER BY random() LIMIT 1000")) {
    ids.push_back(row[0].as<int64_t>());
    slots.push_back(1 + static_cast<int64_t>(ids.size()) % 100);
  }
  const std::string plan =
      PlanOf(queue_sql::kLeaseChosen,
             nt.quote(PgArray(ids)) + ", " + nt.quote(queue_sql::SlotsByTaskId(ids, slots)) +
                 ", (SELECT array_agg(now() + interval '1 minute') FROM generate_series(1, 100))"
                 ", (SELECT array_agg('agent-' || g) FROM generate_series(1, 100) g)");
  EXPECT_EQ(plan.find("Seq Scan on discovery_queue"), std::string::npos) << plan;
  EXPECT_NE(plan.find("Index Cond: (task_id = ANY"), std::string::npos) << plan;
}

TEST_F(LeaseTest, AnAgentStartingWithTheIdOfADeadOneEndsItsLeasesAsFailedAttempts) {
  ASSERT_TRUE(queue_->Enqueue("character", {1, 2, 3}, Priority::kManual).ok());
  ASSERT_EQ(LeaseOrDie({"character"}, 2, "agent-a", seconds(60)).size(), 2u);
  ASSERT_EQ(LeaseOrDie({"character"}, 1, "agent-b", seconds(60)).size(), 1u);

  auto ended = queue_->ReclaimLeasesOf("agent-a");
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_EQ(*ended, 2);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE state = 2 AND attempts = 1"
                       " AND last_error = 'agent agent-a restarted while holding this task'"),
            2);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE state = 1"
                       " AND leased_by = 'agent-b'"),
            1)
      << "another agent's lease is untouched";
  // After the first attempt's backoff, not the 60 s lease, the tasks are back.
  clock_.Advance(seconds(5));
  EXPECT_EQ(LeaseOrDie({"character"}, 10, "agent-a").size(), 2u);
  EXPECT_EQ(*queue_->ReclaimLeasesOf("agent-nobody"), 0);
}

TEST_F(LeaseTest, LongPollReturnsWhenWorkArrives) {
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ASSERT_TRUE(queue_->Enqueue("character", {9}, Priority::kManual).ok());
  });
  auto start = std::chrono::steady_clock::now();
  auto got = queue_->Lease("agent-a", {"character"}, 5, seconds(30), seconds(10));
  producer.join();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
}

}  // namespace
}  // namespace sluice::testing
