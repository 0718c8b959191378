// A completion commits entity rows, cache state, discovered tasks and the
// task's removal in one transaction, or nothing at all.
#include <atomic>
#include <thread>

#include <nlohmann/json.hpp>

#include "server/store/queue_sql.h"
#include "tests/server/queue/queue_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class CompletionTest : public QueueFixture {
 protected:
  // Leases three corporations (into *leased) and completes each well.
  std::vector<Completion> ThreeCorporationsDone(std::vector<LeasedTask>* leased) {
    EXPECT_TRUE(
        queue_->Enqueue("corporation", {98000001, 98000002, 98000003}, Priority::kManual).ok());
    *leased = LeaseOrDie({"corporation"}, 3);
    std::vector<Completion> batch;
    for (const LeasedTask& task : *leased) batch.push_back(CorporationDone(task));
    return batch;
  }

  Completion CorporationDone(const LeasedTask& t) {
    Completion c;
    c.task_id = t.task_id;
    c.fencing_token = t.fencing_token;
    c.agent_id = "agent-a";
    c.etag = "\"abc\"";
    c.expires = clock_.Now() + seconds(3600);
    c.payload = Records({Corporation(t.entity_id)});
    c.discovered.push_back({"character", {2112000001, 2112000002}, false});
    c.discovered.push_back({"alliance", {99000001}, false});
    return c;
  }
};

TEST_F(CompletionTest, CommitsEntitiesDiscoveriesAndRemovalTogether) {
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  auto t = LeaseOrDie({"corporation"}, 1);
  auto out = queue_->Complete(CorporationDone(t[0]));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->records_written, 1);
  EXPECT_EQ(out->tasks_queued, 3);
  EXPECT_EQ(db_->Query("SELECT name FROM corporation_static WHERE corporation_id = 98000001"),
            "Corp");
  EXPECT_EQ(
      db_->Query("SELECT member_count FROM corporation_ephemeral WHERE corporation_id = 98000001"),
      "42");
  EXPECT_EQ(
      db_->Query(
          "SELECT etag FROM entity_cache WHERE kind = 'corporation' AND entity_id = 98000001"),
      "\"abc\"");
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'corporation'"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'character'"), 2);
  // Discovered tasks inherit the priority of the task that found them.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE priority = 5"), 3);
}

TEST_F(CompletionTest, InjectedFailureAtAnyStageLeavesNothingPartial) {
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  for (const std::string stage : {"locked", "entities", "discovered", "before_commit"}) {
    SCOPED_TRACE(stage);
    auto t = LeaseOrDie({"corporation"}, 1);
    ASSERT_EQ(t.size(), 1u);
    store_->set_fault_hook([stage](const std::string& at) {
      if (at == stage) throw std::runtime_error("injected failure at " + at);
    });
    auto out = queue_->Complete(CorporationDone(t[0]));
    store_->set_fault_hook(nullptr);
    EXPECT_FALSE(out.ok());
    EXPECT_EQ(db_->Count("SELECT count(*) FROM corporation_static"), 0);
    EXPECT_EQ(db_->Count("SELECT count(*) FROM corporation_ephemeral"), 0);
    EXPECT_EQ(db_->Count("SELECT count(*) FROM entity_cache"), 0);
    EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind <> 'corporation'"), 0);
    EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'corporation'"), 1);
    // The lease still holds: let it lapse for the next stage.
    clock_.Advance(seconds(31));
  }
  // And with no fault the same task commits fully.
  auto t = LeaseOrDie({"corporation"}, 1);
  ASSERT_TRUE(queue_->Complete(CorporationDone(t[0])).ok());
  EXPECT_EQ(db_->Count("SELECT count(*) FROM corporation_static"), 1);
}

TEST_F(CompletionTest, AnEntityCompletedWhileAnotherBatchDiscoversItIsNotQueuedAgain) {
  // Batch A completes character 2112000001; batch B completes a corporation
  // that lists it. B judges freshness before A commits, then waits for A's
  // lock on the character's task row, then (A committed, the row gone)
  // inserts: unchecked, the character would be fetched again at once.
  ASSERT_TRUE(queue_->Enqueue("character", {2112000001}, Priority::kManual).ok());
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  const LeasedTask character = LeaseOrDie({"character"}, 1).at(0);
  const LeasedTask corporation = LeaseOrDie({"corporation"}, 1).at(0);
  Completion character_done;
  character_done.task_id = character.task_id;
  character_done.fencing_token = character.fencing_token;
  character_done.agent_id = "agent-a";
  v1::EntityRecord r;
  r.mutable_character()->set_character_id(2112000001);
  r.mutable_character()->set_name("Pilot");
  character_done.payload = Records({r});
  const Completion corporation_done = CorporationDone(corporation);

  static thread_local bool holds_a = false;
  std::atomic<bool> a_ready{false}, release_a{false};
  store_->set_fault_hook([&](const std::string& at) {
    if (!holds_a || at != "before_commit") return;
    a_ready = true;
    for (int i = 0; i < 1000 && !release_a; ++i) std::this_thread::sleep_for(milliseconds(10));
  });
  const TimePoint now = clock_.Now();
  const TimePoint fresh_after = now - options_.fresh_for;
  std::vector<absl::StatusOr<CompletionOutcome>> a_out, b_out;
  std::thread a([&] {
    holds_a = true;
    a_out = store_->CompleteBatch({&character_done}, now, fresh_after);
  });
  while (!a_ready) std::this_thread::sleep_for(milliseconds(5));
  std::thread b([&] { b_out = store_->CompleteBatch({&corporation_done}, now, fresh_after); });
  // B is waiting on A's row lock before A commits.
  bool b_waits = false;
  for (int i = 0; i < 500 && !b_waits; ++i) {
    b_waits = db_->Count(
                  "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                  "AND wait_event_type = 'Lock'") > 0;
    if (!b_waits) std::this_thread::sleep_for(milliseconds(10));
  }
  release_a = true;
  a.join();
  b.join();
  store_->set_fault_hook(nullptr);
  EXPECT_TRUE(b_waits) << "the race was not set up: B never waited for A";
  ASSERT_TRUE(a_out.at(0).ok()) << a_out[0].status();
  ASSERT_TRUE(b_out.at(0).ok()) << b_out[0].status();

  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE entity_id = 2112000001"), 0)
      << "refreshed by A a moment ago: not queued again";
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE entity_id = 2112000002"), 1);
}

TEST_F(CompletionTest, NotModifiedRefreshesLastModifiedWithoutRewritingData) {
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  auto t = LeaseOrDie({"corporation"}, 1);
  ASSERT_TRUE(queue_->Complete(CorporationDone(t[0])).ok());
  Exec("UPDATE corporation_ephemeral SET member_count = 7");  // marker: must survive a 304
  const std::string before = db_->Query("SELECT last_modified FROM corporation_static");

  clock_.Advance(seconds(7200));
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  auto again = LeaseOrDie({"corporation"}, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].etag, "\"abc\"") << "the lease must carry the known ETag for If-None-Match";
  Completion c;
  c.task_id = again[0].task_id;
  c.fencing_token = again[0].fencing_token;
  c.not_modified = true;
  ASSERT_TRUE(queue_->Complete(c).ok());
  EXPECT_EQ(db_->Query("SELECT member_count FROM corporation_ephemeral"), "7");
  EXPECT_NE(db_->Query("SELECT last_modified FROM corporation_static"), before);
  EXPECT_EQ(db_->Query("SELECT etag FROM entity_cache"), "\"abc\"") << "304 keeps the ETag";
}

TEST_F(CompletionTest, FreshEntitiesAreNotRediscoveredUnlessForcedByATaskQueuedSince) {
  // Corporation -> character -> corporation must not loop.
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  auto t = LeaseOrDie({"corporation"}, 1);
  ASSERT_TRUE(queue_->Complete(CorporationDone(t[0])).ok());
  auto chars = LeaseOrDie({"character"}, 1);
  ASSERT_EQ(chars.size(), 1u);
  Completion c;
  c.task_id = chars[0].task_id;
  c.fencing_token = chars[0].fencing_token;
  v1::EntityRecord r;
  r.mutable_character()->set_character_id(chars[0].entity_id);
  r.mutable_character()->set_name("Pilot");
  c.payload = Records({r});
  c.discovered.push_back({"corporation", {98000001}, false});
  auto out = queue_->Complete(c);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->tasks_queued, 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'corporation'"), 0);

  // Forced (a list route), it is queued whatever its freshness, except when
  // it was checked after the forcing task was queued: this character task
  // was queued with the corporation's answer, so that answer is as fresh.
  auto chars2 = LeaseOrDie({"character"}, 1);
  ASSERT_EQ(chars2.size(), 1u);
  c.task_id = chars2[0].task_id;
  c.fencing_token = chars2[0].fencing_token;
  r.mutable_character()->set_character_id(chars2[0].entity_id);
  c.payload = Records({r});
  c.discovered[0].force = true;
  out = queue_->Complete(c);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->tasks_queued, 0);

  // A forcing task queued after the corporation was checked queues it.
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(queue_->Enqueue("character", {90000077}, Priority::kManual).ok());
  auto chars3 = LeaseOrDie({"character"}, 1);
  ASSERT_EQ(chars3.size(), 1u);
  c.task_id = chars3[0].task_id;
  c.fencing_token = chars3[0].fencing_token;
  r.mutable_character()->set_character_id(chars3[0].entity_id);
  c.payload = Records({r});
  out = queue_->Complete(c);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->tasks_queued, 1);
}

TEST_F(CompletionTest, NotModifiedListReplaysItsLastDiscoveries) {
  // /alliances/ answered 304: the list is the one we had, and the daily
  // sequence must still fan out to every alliance on it.
  auto complete_list = [&](bool not_modified) {
    EXPECT_TRUE(queue_->Enqueue("alliance_ids", {0}, Priority::kBackground).ok());
    auto t = LeaseOrDie({"alliance_ids"}, 1);
    EXPECT_EQ(t.size(), 1u);
    Completion c;
    c.task_id = t[0].task_id;
    c.fencing_token = t[0].fencing_token;
    c.etag = "\"list-v1\"";
    c.not_modified = not_modified;
    if (!not_modified) c.discovered.push_back({"alliance", {99000001, 99000002}, true});
    auto out = queue_->Complete(c);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? out->tasks_queued : -1;
  };
  EXPECT_EQ(complete_list(false), 2);
  Exec("DELETE FROM discovery_queue WHERE kind = 'alliance'");
  EXPECT_EQ(complete_list(true), 2);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'alliance'"), 2);
  EXPECT_EQ(db_->Query("SELECT etag FROM entity_cache WHERE kind = 'alliance_ids'"), "\"list-v1\"");
}

TEST_F(CompletionTest, RecordForAnotherEntityIsRejected) {
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  auto t = LeaseOrDie({"corporation"}, 1);
  Completion c = CorporationDone(t[0]);
  c.payload = Records({Corporation(98000002)});
  auto out = queue_->Complete(c);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("records[0]"), std::string::npos) << out.status();
  // The refusal cost the task an attempt and ended the lease.
  EXPECT_EQ(queue_->Complete(CorporationDone(t[0])).status().code(),
            absl::StatusCode::kFailedPrecondition);
  clock_.Advance(std::chrono::hours(1));  // past the backoff
  t = LeaseOrDie({"corporation"}, 1);
  ASSERT_EQ(t.size(), 1u);
  c = CorporationDone(t[0]);
  v1::EntityRecord alliance;
  alliance.mutable_alliance()->set_alliance_id(t[0].entity_id);
  c.payload = Records({alliance});
  EXPECT_EQ(queue_->Complete(c).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM corporation_static"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM alliance_static"), 0);
}

TEST_F(CompletionTest, BadDiscoveriesAreRejectedNamingTheField) {
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  auto t = LeaseOrDie({"corporation"}, 1);
  Completion c = CorporationDone(t[0]);
  c.discovered.push_back({"planet", {1}, false});
  auto out = queue_->Complete(c);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(out.status().message().find("discovered[2].kind"), std::string::npos) << out.status();
  c = CorporationDone(t[0]);
  c.discovered[0].ids.push_back(-5);
  out = queue_->Complete(c);
  EXPECT_NE(out.status().message().find("discovered[0].ids[2]"), std::string::npos) << out.status();
}

TEST_F(CompletionTest, BatchCommitsGoodCompletionsAndRejectsBadOnes) {
  ASSERT_TRUE(
      queue_->Enqueue("corporation", {98000001, 98000002, 98000003}, Priority::kManual).ok());
  auto t = LeaseOrDie({"corporation"}, 3);
  ASSERT_EQ(t.size(), 3u);
  Completion good = CorporationDone(t[0]);
  Completion stale = CorporationDone(t[1]);
  stale.fencing_token += 1000;
  Completion wrong = CorporationDone(t[2]);
  wrong.payload = Records({Corporation(1)});
  Completion duplicate = good;
  auto results = store_->CompleteBatch({&good, &stale, &wrong, &duplicate}, clock_.Now(),
                                       clock_.Now() - std::chrono::hours(1));
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(results[3].status().code(), absl::StatusCode::kFailedPrecondition)
      << "the same lease must not commit twice";
  EXPECT_EQ(db_->Count("SELECT count(*) FROM corporation_static"), 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'corporation'"), 2);
}

TEST_F(CompletionTest, ANulInOneNameFailsOnlyThatTaskAndCountsAnAttempt) {
  std::vector<LeasedTask> t;
  std::vector<Completion> batch = ThreeCorporationsDone(&t);
  ASSERT_EQ(batch.size(), 3u);
  v1::EntityRecord bad = Corporation(t[1].entity_id);
  bad.mutable_corporation()->set_name(std::string("Bad\0Corp", 8));
  batch[1].payload = Records({bad});
  auto results = queue_->CompleteMany(batch);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_TRUE((*results)[0].ok()) << (*results)[0].status();
  EXPECT_TRUE((*results)[2].ok()) << (*results)[2].status();
  EXPECT_EQ((*results)[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE((*results)[1].status().message().find("records[0].name"), std::string::npos)
      << (*results)[1].status();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM corporation_static"), 2);
  // The refused result cost the task an attempt: it waits out a backoff.
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'corporation'"
                       " AND attempts = 1 AND state = 2 AND last_error LIKE 'result rejected:%'"),
            1);
}

TEST_F(CompletionTest, AResultRefusedEveryTimeEndsInDeadTasksWithTheReason) {
  options_.retry.max_attempts = 3;
  ResetQueue();
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  for (int attempt = 1; attempt <= 3; ++attempt) {
    SCOPED_TRACE(attempt);
    clock_.Advance(std::chrono::hours(1));  // past any backoff
    auto t = LeaseOrDie({"corporation"}, 1);
    ASSERT_EQ(t.size(), 1u);
    Completion c = CorporationDone(t[0]);
    v1::EntityRecord huge = Corporation(t[0].entity_id);
    huge.mutable_corporation()->set_name(std::string(1 << 20, 'x'));
    c.payload = Records({huge});
    auto out = queue_->Complete(c);
    EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_LT(out.status().message().size(), 300u) << "a megabyte name is quoted, not echoed";
  }
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM dead_tasks WHERE kind = 'corporation'"
                       " AND attempts = 3 AND error LIKE '%records[0].name%'"),
            1);
}

TEST_F(CompletionTest, ACompletionTheDatabaseRefusesFailsAloneAndItsNeighboursCommit) {
  // Data that passes every check yet breaks a statement outside any
  // savepoint (here a trigger refuses one ETag): the whole transaction fails,
  // and the group is committed again in halves until the refused one is
  // alone.
  Exec(
      "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
      " IF NEW.etag = '\"poison\"' THEN RAISE EXCEPTION 'poisoned etag'; END IF;"
      " RETURN NEW; END $$;"
      "CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON entity_cache"
      " FOR EACH ROW EXECUTE FUNCTION refuse_poison()");
  std::vector<LeasedTask> t;
  std::vector<Completion> batch = ThreeCorporationsDone(&t);
  ASSERT_EQ(batch.size(), 3u);
  batch[0].etag = "\"poison\"";
  auto results = queue_->CompleteMany(batch);
  ASSERT_TRUE(results.ok()) << results.status();
  EXPECT_FALSE((*results)[0].ok());
  EXPECT_TRUE((*results)[1].ok()) << (*results)[1].status();
  EXPECT_TRUE((*results)[2].ok()) << (*results)[2].status();
  EXPECT_EQ(db_->Count("SELECT count(*) FROM corporation_static"), 2);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'corporation'"), 1);
}

// The queue drained to a few rows, autovacuum analyzed it, then a burst
// refilled it: until the next ANALYZE the statistics say three rows. Locking
// a batch of 1,000 must still read only the batch's rows through the primary
// key; joined pairwise with the batch it was planned as a nested loop over a
// whole-table scan (1,000 x 20,000 rows; 5-19 s a statement at 100,000).
TEST_F(CompletionTest, LockingABatchReadsOnlyItsRowsWhenTheStatisticsSayTheQueueIsEmpty) {
  QueueRefilledAfterAnAnalyzeOfItsLastRows(/*leased=*/true);
  const std::string batch =
      "(SELECT array_agg(task_id ORDER BY r) FROM (SELECT task_id, random() AS r FROM "
      "discovery_queue WHERE entity_id > 100000 ORDER BY r LIMIT 1000) s)";
  const std::string tokens =
      "(SELECT array_agg(lease_token) FROM discovery_queue WHERE entity_id > 100000)";
  const std::string plan =
      PlanOf(queue_sql::kLockBatch, batch + ", " + tokens + ", '{}'::bigint[]");
  EXPECT_EQ(plan.find("Seq Scan on discovery_queue"), std::string::npos) << plan;
  EXPECT_NE(plan.find("Index Cond: (task_id = ANY"), std::string::npos) << plan;
}

TEST_F(CompletionTest, ConcurrentCompletionsAllCommit) {
  std::vector<int64_t> ids;
  for (int i = 1; i <= 300; ++i) ids.push_back(98000000 + i);
  ASSERT_TRUE(queue_->Enqueue("corporation", ids, Priority::kManual).ok());
  auto tasks = LeaseOrDie({"corporation"}, 300);
  ASSERT_EQ(tasks.size(), 300u);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int w = 0; w < 12; ++w) {
    threads.emplace_back([&, w] {
      for (size_t i = w; i < tasks.size(); i += 12) {
        if (queue_->Complete(CorporationDone(tasks[i])).ok()) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 300);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM corporation_static"), 300);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'corporation'"), 0);
}

// The same tasks reported twice at once (an agent retrying a batch whose
// answer it lost), in opposite orders: the batches lock the tasks in one
// order, so one waits for the other instead of deadlocking, and each task is
// completed once; the later report finds it gone and is refused.
TEST_F(CompletionTest, OverlappingBatchesInOppositeOrdersCompleteEachTaskOnce) {
  for (int round = 0; round < 5; ++round) {
    std::vector<int64_t> ids;
    for (int i = 1; i <= 100; ++i) ids.push_back(98000000 + round * 1000 + i);
    ASSERT_TRUE(queue_->Enqueue("corporation", ids, Priority::kManual).ok());
    auto tasks = LeaseOrDie({"corporation"}, 100);
    ASSERT_EQ(tasks.size(), 100u);
    std::vector<Completion> done;
    for (const LeasedTask& t : tasks) done.push_back(CorporationDone(t));
    std::vector<const Completion*> forward, backward;
    for (const Completion& c : done) forward.push_back(&c);
    backward.assign(forward.rbegin(), forward.rend());
    std::vector<absl::StatusOr<CompletionOutcome>> a, b;
    std::thread ta([&] { a = store_->CompleteBatch(forward, clock_.Now(), clock_.Now()); });
    std::thread tb([&] { b = store_->CompleteBatch(backward, clock_.Now(), clock_.Now()); });
    ta.join();
    tb.join();
    int committed = 0;
    for (const auto* results : {&a, &b}) {
      ASSERT_EQ(results->size(), 100u);
      for (const auto& r : *results) {
        if (r.ok()) {
          ++committed;
        } else {
          EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
        }
      }
    }
    EXPECT_EQ(committed, 100) << "round " << round;
  }
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'corporation'"), 0);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM corporation_static"), 500);
}

// Every completion rewrites its entity's cache row (checked_at): the table
// leaves room on its pages (0021_hot_entities.sql), so those updates are HOT.
TEST_F(CompletionTest, RewritingCacheRowsUpdatesThemInPlace) {
  auto rows = [](int from, int step, const std::string& etag) {
    nlohmann::json j = nlohmann::json::array();
    for (int i = from; i < 1000; i += step) {
      j.push_back({{"kind", "character"},
                   {"entity_id", 2112000000 + i},
                   {"etag", etag},
                   {"expires_at", ""},
                   {"discovered", nullptr}});
    }
    return j.dump();
  };
  pqxx::connection c(db_->dsn());
  {
    pqxx::work w(c);
    w.exec_params(queue_sql::kUpsertCacheBatch, rows(0, 1, "\"v1\""), "2027-01-15T08:00:00Z");
    w.commit();
  }
  pqxx::work w(c);
  w.exec_params(queue_sql::kUpsertCacheBatch, rows(0, 10, "\"v2\""), "2027-01-16T08:00:00Z");
  auto row = w.exec1(
      "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
      " WHERE relname = 'entity_cache'");
  EXPECT_EQ(row[0].as<int64_t>(), 100);
  EXPECT_EQ(row[1].as<int64_t>(), 100) << "every cache row rewritten in place";
}

// ESI: "Circumventing the ESI caching can get you banned". A resource is not
// fetched again before the Expires its last answer carried, whatever asks.
TEST_F(CompletionTest, AnEntityIsNotLeasedAgainBeforeItsStoredExpires) {
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  auto t = LeaseOrDie({"corporation"}, 1);
  ASSERT_TRUE(queue_->Complete(CorporationDone(t[0])).ok());  // Expires: now + 3600 s

  auto again = queue_->Enqueue("corporation", {98000001}, Priority::kManual);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->enqueued, 1);
  EXPECT_EQ(again->waiting_for_expires, 1);
  EXPECT_TRUE(LeaseOrDie({"corporation"}, 1).empty());
  clock_.Advance(seconds(3599));
  EXPECT_TRUE(LeaseOrDie({"corporation"}, 1).empty());
  clock_.Advance(seconds(1));
  auto due = LeaseOrDie({"corporation"}, 1);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].entity_id, 98000001);
}

TEST_F(CompletionTest, AForcedDiscoveryOfAFreshEntityWaitsForItsExpires) {
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  auto t = LeaseOrDie({"corporation"}, 1);
  ASSERT_TRUE(queue_->Complete(CorporationDone(t[0])).ok());
  // A list route queued after the corporation was checked forces it.
  clock_.Advance(seconds(1));
  ASSERT_TRUE(queue_->Enqueue("character", {90000077}, Priority::kManual).ok());
  std::vector<LeasedTask> chars;
  for (const LeasedTask& c : LeaseOrDie({"character"}, 10)) {
    if (c.entity_id == 90000077) chars.push_back(c);
  }
  ASSERT_EQ(chars.size(), 1u);
  Completion c;
  c.task_id = chars[0].task_id;
  c.fencing_token = chars[0].fencing_token;
  v1::EntityRecord r;
  r.mutable_character()->set_character_id(90000077);
  r.mutable_character()->set_name("Pilot");
  c.payload = Records({r});
  c.discovered.push_back({"corporation", {98000001}, true});
  auto out = queue_->Complete(c);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->tasks_queued, 1);
  EXPECT_TRUE(LeaseOrDie({"corporation"}, 1).empty());
  clock_.Advance(seconds(3600));
  EXPECT_EQ(LeaseOrDie({"corporation"}, 1).size(), 1u);
}

TEST_F(CompletionTest, AUserRequestForAFreshEntityIsAnsweredFromTheDatabaseAndCounted) {
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  auto t = LeaseOrDie({"corporation"}, 1);
  ASSERT_TRUE(queue_->Complete(CorporationDone(t[0])).ok());

  auto asked = queue_->Enqueue("corporation", {98000001}, Priority::kUser);
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_EQ(asked->enqueued, 0);
  EXPECT_EQ(asked->answered_from_database, 1);
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue WHERE kind = 'corporation'"), 0);
  EXPECT_EQ(
      db_->Query("SELECT access_count FROM corporation_static WHERE corporation_id = 98000001"),
      "1");
  // Once it has expired, the same request queues a fetch.
  clock_.Advance(seconds(3600));
  asked = queue_->Enqueue("corporation", {98000001}, Priority::kUser);
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_EQ(asked->enqueued, 1);
  EXPECT_EQ(asked->answered_from_database, 0);
  EXPECT_EQ(LeaseOrDie({"corporation"}, 1).size(), 1u);
}

}  // namespace
}  // namespace sluice::testing
