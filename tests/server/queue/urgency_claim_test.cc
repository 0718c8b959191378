// Claims must return exactly the N most urgent ready tasks by
// (now - last_modified) * (access_count + 1) within the highest priority that
// has work. Checked against a brute-force ordering on randomized data.
#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "server/queue/urgency.h"
#include "server/store/pg_pool.h"
#include "server/store/queue_sql.h"
#include "tests/server/queue/queue_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;

// SQL queueing characters 1..n directly (as an operator would), of weight 1,
// the higher the id the older: character n is the most urgent.
std::string CharactersOldestLast(int n) {
  return "INSERT INTO discovery_queue (kind, entity_id, priority, weight, last_modified,"
         " enqueued_at) SELECT 'character', g, 3, 1, to_timestamp(1800000000 - g), now()"
         " FROM generate_series(1, " +
         std::to_string(n) + ") g";
}

struct Row {
  int64_t task_id;
  std::string kind;
  int priority;
  int64_t weight;
  double last_modified;  // unix seconds
  bool leased;
};

class UrgencyClaimTest : public QueueFixture {
 protected:
  std::vector<Row> InsertRandom(std::mt19937_64& rng, int n, const std::vector<std::string>& kinds,
                                const std::vector<int>& priorities) {
    std::vector<Row> rows;
    std::string values;
    const double now = ToUnixSeconds(clock_.Now());
    // Zipf-like access counts: most entities never viewed, a few very often,
    // so there are many distinct weights and the claim must walk them.
    std::uniform_real_distribution<double> u(0, 1);
    for (int i = 1; i <= n; ++i) {
      Row r;
      r.task_id = i;
      r.kind = kinds[rng() % kinds.size()];
      r.priority = priorities[rng() % priorities.size()];
      double x = u(rng);
      r.weight = x < 0.7 ? 1 : 1 + static_cast<int64_t>(std::pow(1 / (1 - x), 1.5));
      r.last_modified = now - u(rng) * 86400 * 30 - (rng() % 3 == 0 ? 0 : 0.5);
      r.leased = rng() % 10 == 0;
      rows.push_back(r);
      if (!values.empty()) values += ",";
      values += "(" + std::to_string(r.task_id) + ",'" + r.kind + "'," + std::to_string(i) + "," +
                std::to_string(r.priority) + "," + std::to_string(r.weight) + ",to_timestamp(" +
                std::to_string(r.last_modified) + ")," +
                (r.leased ? "1, to_timestamp(" + std::to_string(now + 86400) + "), 999"
                          : "0, NULL, NULL") +
                ", now())";
    }
    Exec(
        "INSERT INTO discovery_queue (task_id, kind, entity_id, priority, weight, last_modified,"
        " state, available_at, lease_token, enqueued_at) VALUES " +
        values);
    Exec("ANALYZE discovery_queue");
    return rows;
  }

  // Scores of the n most urgent claimable rows, brute force.
  std::vector<double> BruteForce(const std::vector<Row>& rows,
                                 const std::vector<std::string>& kinds, int n) {
    const TimePoint now = clock_.Now();
    int top = -1;
    for (const Row& r : rows) {
      if (!r.leased && std::count(kinds.begin(), kinds.end(), r.kind))
        top = std::max(top, r.priority);
    }
    std::vector<double> scores;
    for (const Row& r : rows) {
      if (r.leased || r.priority != top || !std::count(kinds.begin(), kinds.end(), r.kind))
        continue;
      scores.push_back(Urgency(now, FromUnixSeconds(r.last_modified), r.weight - 1));
    }
    std::sort(scores.rbegin(), scores.rend());
    if (static_cast<int>(scores.size()) > n) scores.resize(n);
    return scores;
  }
};

TEST_F(UrgencyClaimTest, MatchesBruteForceOnRandomizedData) {
  std::mt19937_64 rng(20261123);
  const std::vector<std::string> kinds = {"alliance", "corporation", "character"};
  auto rows = InsertRandom(rng, 20000, kinds, {3, 3, 3, 5});
  std::map<int64_t, Row*> by_id;
  for (Row& r : rows) by_id[r.task_id] = &r;

  // Claim batch after batch (different kind subsets and sizes), each time
  // comparing with brute force over what is still unleased.
  const std::vector<std::vector<std::string>> subsets = {
      kinds, {"character"}, {"alliance", "corporation"}, kinds, {"corporation"}};
  for (int round = 0; round < 25; ++round) {
    const auto& ks = subsets[round % subsets.size()];
    const int n = 1 + static_cast<int>(rng() % 150);
    auto expected = BruteForce(rows, ks, n);
    auto leased = LeaseOrDie(ks, n, "agent-a", std::chrono::hours(1));
    ASSERT_EQ(leased.size(), expected.size()) << "round " << round;
    std::vector<double> got;
    for (const auto& t : leased) {
      Row* r = by_id.at(t.task_id);
      ASSERT_FALSE(r->leased) << "claimed a leased task";
      r->leased = true;
      got.push_back(Urgency(clock_.Now(), FromUnixSeconds(r->last_modified), r->weight - 1));
    }
    std::sort(got.rbegin(), got.rend());
    // Ties may be broken either way, so compare scores, not ids.
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], expected[i], 1e-3 * std::max(1.0, expected[i]))
          << "round " << round << " position " << i;
    }
    // Time moves (urgency order changes with it) but no lease lapses.
    clock_.Advance(std::chrono::seconds(1 + rng() % 60));
  }
}

TEST_F(UrgencyClaimTest, HigherPriorityClassWinsOverUrgency) {
  // A week-old, often-viewed background task loses to a fresh manual one.
  Exec(
      "INSERT INTO discovery_queue (kind, entity_id, priority, weight, last_modified, enqueued_at)"
      " VALUES ('character', 1, 3, 100, to_timestamp(1800000000 - 604800), now()),"
      "        ('character', 2, 5, 1, to_timestamp(1800000000 - 1), now())");
  auto first = LeaseOrDie({"character"}, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].entity_id, 2);
  auto second = LeaseOrDie({"character"}, 5);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].entity_id, 1);
}

TEST_F(UrgencyClaimTest, AccessCountOutweighsAge) {
  // 10 minutes old with 9 views (urgency 6000) beats 90 minutes old with none
  // (5400), which beats 5 minutes old with 9 views (3000).
  Exec(
      "INSERT INTO discovery_queue (kind, entity_id, priority, weight, last_modified, enqueued_at)"
      " VALUES ('corporation', 1, 3, 10, to_timestamp(1800000000 - 600), now()),"
      "        ('corporation', 2, 3, 1, to_timestamp(1800000000 - 5400), now()),"
      "        ('corporation', 3, 3, 10, to_timestamp(1800000000 - 300), now())");
  auto got = LeaseOrDie({"corporation"}, 3);
  ASSERT_EQ(got.size(), 3u);
  std::map<int64_t, int> rank;
  // Returned order is not promised; lease one at a time to see the order.
  Exec("UPDATE discovery_queue SET state = 0, available_at = NULL, lease_token = NULL");
  std::vector<int64_t> order;
  for (int i = 0; i < 3; ++i) order.push_back(LeaseOrDie({"corporation"}, 1).at(0).entity_id);
  EXPECT_EQ(order, (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(UrgencyClaimTest, PromotionAndLeaseProbeTheQueueAndCacheByIndexWhateverTheirSize) {
  // A claim ranks in memory; in the database it promotes what is due and
  // leases the chosen rows. Against a queue and cache of tens of thousands
  // (the size at which the planner once answered with hash joins over whole
  // tables), a group lease of thousands must probe both by index. The
  // store's own statements, one transaction, its scans counted.
  Exec(
      "INSERT INTO discovery_queue (kind, entity_id, priority, weight, last_modified, enqueued_at)"
      " SELECT 'character', g, 3, 1 + (g % 5), to_timestamp(1800000000 - g), now()"
      " FROM generate_series(1, 50000) g");
  Exec(
      "UPDATE discovery_queue SET state = 1, available_at = to_timestamp(1800000000 - 1)"
      " WHERE entity_id <= 10");
  Exec(
      "INSERT INTO entity_cache (kind, entity_id, etag, checked_at)"
      " SELECT 'character', g, 'e' || g, now() FROM generate_series(1, 50000) g");
  Exec("ANALYZE discovery_queue");
  Exec("ANALYZE entity_cache");
  std::vector<int64_t> ids;
  std::vector<int64_t> slots;
  for (int i = 0; i < 3000; ++i) {
    ids.push_back(20 + i * 7);
    slots.push_back(1 + i / 100);
  }
  std::vector<std::string> untils(30, "2027-01-15T08:01:00Z"), agents;
  for (int i = 0; i < 30; ++i) agents.push_back("agent-" + std::to_string(i));
  pqxx::connection c(db_->dsn());
  std::vector<int64_t> lapsed;  // as the due index would choose them
  {
    pqxx::nontransaction nt(c);
    for (const auto& row : nt.exec(
             "SELECT task_id FROM discovery_queue WHERE kind = 'character' AND entity_id <= 10")) {
      lapsed.push_back(row[0].as<int64_t>());
    }
  }
  ASSERT_EQ(lapsed.size(), 10u);
  pqxx::work w(c);
  auto promoted = w.exec_params(queue_sql::kPromoteChosen, "2027-01-15T08:00:00Z", PgArray(lapsed));
  EXPECT_EQ(promoted.size(), 10u) << "the lapsed leases";
  auto leased =
      w.exec_params(queue_sql::kLeaseChosen, PgArray(ids), queue_sql::SlotsByTaskId(ids, slots),
                    PgTextArray(untils), PgTextArray(agents));
  ASSERT_EQ(leased.size(), 3000u);
  for (const auto& row : leased) {
    ASSERT_EQ(row[8].as<std::string>(), "e" + row[3].as<std::string>()) << "etag of its entity";
    ASSERT_EQ(row[0].as<int>(), 1 + (row[3].as<int>() - 20) / 7 / 100) << "slot of its id";
  }
  auto stats = w.exec(
      "SELECT relname, seq_scan FROM pg_stat_xact_user_tables"
      " WHERE relname IN ('discovery_queue', 'entity_cache') ORDER BY relname");
  ASSERT_EQ(stats.size(), 2u);
  for (const auto& row : stats) {
    EXPECT_EQ(row[1].as<int64_t>(), 0) << "the claim scanned all of " << row[0].c_str();
  }
}

TEST_F(UrgencyClaimTest, ALeaseLeavesOutARowNoLongerReady) {
  // The index may hold a row a moment after it stopped being ready; the
  // lease statement must not lease it again.
  Exec(
      "INSERT INTO discovery_queue (task_id, kind, entity_id, priority, weight, last_modified,"
      " state, available_at, lease_token, enqueued_at) VALUES"
      " (1, 'character', 1, 3, 1, now(), 1, now() + interval '1 hour', 5, now()),"
      " (2, 'character', 2, 3, 1, now(), 0, NULL, NULL, now())");
  pqxx::connection c(db_->dsn());
  pqxx::work w(c);
  auto leased = w.exec_params(queue_sql::kLeaseChosen, PgArray(std::vector<int64_t>{1, 2}),
                              queue_sql::SlotsByTaskId({1, 2}, {1, 1}),
                              PgTextArray({"2027-01-15T08:01:00Z"}), PgTextArray({"a"}));
  ASSERT_EQ(leased.size(), 1u);
  EXPECT_EQ(leased[0][1].as<int64_t>(), 2);
}

TEST_F(UrgencyClaimTest, AQueueThatOutgrewItsStatisticsIsAnalyzedAgain) {
  // Analyzed by the test and the store only.
  Exec("ALTER TABLE discovery_queue SET (autovacuum_enabled = false)");
  // Statistics that match: nothing to do.
  Exec(
      "INSERT INTO discovery_queue (kind, entity_id, priority, weight, last_modified, enqueued_at)"
      " SELECT 'character', g, 3, 1, now(), now() FROM generate_series(1, 20000) g");
  Exec("ANALYZE discovery_queue");
  ASSERT_EQ(LeaseOrDie({"character"}, 1).size(), 1u);  // loads the indexes
  auto fresh = store_->AnalyzeIfOutgrown();
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_FALSE(*fresh);

  // Analyzed while it had drained to 3 rows, then refilled with 20,000.
  Exec("DELETE FROM discovery_queue");
  QueueRefilledAfterAnAnalyzeOfItsLastRows(/*leased=*/false);
  ASSERT_EQ(LeaseOrDie({"character"}, 1).size(), 1u);
  auto outgrown = store_->AnalyzeIfOutgrown();
  ASSERT_TRUE(outgrown.ok()) << outgrown.status();
  EXPECT_TRUE(*outgrown);
  EXPECT_GE(PlannerQueueRows(), 15000);
}

TEST_F(UrgencyClaimTest, AnAnalyzeThatWouldWaitForAVacuumGivesUp) {
  // A VACUUM holds the lock ANALYZE needs (autovacuum's may hold it for
  // minutes): the health loop must not wait for it, nor cancel it.
  Exec("ALTER TABLE discovery_queue SET (autovacuum_enabled = false)");
  QueueRefilledAfterAnAnalyzeOfItsLastRows(/*leased=*/false);
  ASSERT_EQ(LeaseOrDie({"character"}, 1).size(), 1u);
  pqxx::connection c(db_->dsn());
  pqxx::work vacuum(c);
  vacuum.exec("LOCK TABLE discovery_queue IN SHARE UPDATE EXCLUSIVE MODE");
  auto analyzing = std::async(std::launch::async, [&] { return store_->AnalyzeIfOutgrown(); });
  EXPECT_EQ(analyzing.wait_for(std::chrono::seconds(5)), std::future_status::ready)
      << "still waiting for the lock";
  vacuum.abort();  // lets a waiting ANALYZE end
  EXPECT_FALSE(analyzing.get().ok());
  EXPECT_LE(PlannerQueueRows(), 3);
}

TEST_F(UrgencyClaimTest, ReadyRowsWrittenBehindTheStoresBackAreFoundByTheCheck) {
  // An operator's SQL queues tasks directly. The store's index does not see
  // them; the health loop's check does, and reloads the index.
  ASSERT_TRUE(LeaseOrDie({"character"}, 1).empty());  // loads the (empty) index
  pqxx::connection c(db_->dsn());
  pqxx::nontransaction(c).exec(CharactersOldestLast(5));
  EXPECT_TRUE(LeaseOrDie({"character"}, 5).empty()) << "the index cannot know yet";
  ASSERT_TRUE(store_->CheckReadyIndex().ok());
  EXPECT_EQ(store_->ready_index_reloads(), 0) << "one shortfall may be rows in flight";
  ASSERT_TRUE(store_->CheckReadyIndex().ok());
  EXPECT_EQ(store_->ready_index_reloads(), 1);
  auto got = LeaseOrDie({"character"}, 5);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].entity_id, 5) << "the oldest first";
  ASSERT_TRUE(store_->CheckReadyIndex().ok());
  ASSERT_TRUE(store_->CheckReadyIndex().ok());
  EXPECT_EQ(store_->ready_index_reloads(), 1) << "nothing missing, nothing reloaded";
}

TEST_F(UrgencyClaimTest, RowsARunningClaimHoldsAreNotTakenForRowsWrittenBehindTheStoresBack) {
  // A claim takes its rows out of the index before its transaction leases
  // them, and until it commits the table shows them ready. Checks made while
  // it runs must not read that as a shortfall and reload the whole index.
  Exec(CharactersOldestLast(5));
  std::atomic<bool> leased{false}, release{false};
  store_->set_fault_hook([&](const std::string& at) {
    if (at != "claim_leased") return;
    leased = true;
    for (int i = 0; i < 1000 && !release; ++i) std::this_thread::sleep_for(milliseconds(10));
  });
  std::vector<LeasedTask> got;
  std::thread claim([&] { got = LeaseOrDie({"character"}, 3); });
  for (int i = 0; i < 1000 && !leased; ++i) std::this_thread::sleep_for(milliseconds(5));
  const bool held_open = leased;
  // EXPECT, not ASSERT, until the claim's thread is joined.
  EXPECT_TRUE(store_->CheckReadyIndex().ok());
  EXPECT_TRUE(store_->CheckReadyIndex().ok());
  const int64_t reloads_while_running = store_->ready_index_reloads();
  release = true;
  claim.join();
  store_->set_fault_hook(nullptr);
  ASSERT_TRUE(held_open) << "the claim never reached its lease";
  EXPECT_EQ(reloads_while_running, 0) << "the running claim's 3 rows were taken for missing ones";
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].entity_id, 5) << "the oldest first";
  ASSERT_TRUE(store_->CheckReadyIndex().ok());
  ASSERT_TRUE(store_->CheckReadyIndex().ok());
  EXPECT_EQ(store_->ready_index_reloads(), 0) << "after the commit the index and the table agree";
  EXPECT_EQ(LeaseOrDie({"character"}, 5).size(), 2u);
}

TEST_F(UrgencyClaimTest, RowsCompletedWhileTheCheckCountsAreNotTakenForRowsWrittenBehindItsBack) {
  // The check reads the table's counts, then the indexes. A completion
  // committed in between leaves the counts with a leased row the due index
  // no longer has; under load one such batch falls between every reading.
  Exec(CharactersOldestLast(4));
  std::vector<LeasedTask> leased = LeaseOrDie({"character"}, 2);
  ASSERT_EQ(leased.size(), 2u);
  std::vector<absl::Status> completed;
  store_->set_fault_hook([&](const std::string& at) {
    if (at != "index_check_counted" || completed.size() == leased.size()) return;
    completed.push_back(queue_->Complete(DoneWith(leased[completed.size()], "agent-a")).status());
  });
  ASSERT_TRUE(store_->CheckReadyIndex().ok());
  ASSERT_TRUE(store_->CheckReadyIndex().ok());
  store_->set_fault_hook(nullptr);
  ASSERT_EQ(completed.size(), 2u);
  EXPECT_TRUE(completed[0].ok()) << completed[0];
  EXPECT_TRUE(completed[1].ok()) << completed[1];
  EXPECT_EQ(store_->ready_index_reloads(), 0) << "a completed row was taken for a missing one";
  EXPECT_EQ(db_->Count("SELECT count(*) FROM discovery_queue"), 2);
}

TEST_F(UrgencyClaimTest, ALeaseAndAPromotionAreHotUpdates) {
  // No index of the queue reads the columns a lease or a promotion changes
  // (db/migrations/0020_hot_leases.sql): PostgreSQL updates the rows in
  // place on their pages and writes no index entry. The store's own
  // statements, one transaction, its updates counted.
  Exec(CharactersOldestLast(1000));
  pqxx::connection c(db_->dsn());
  std::vector<int64_t> ids;
  {
    pqxx::nontransaction nt(c);
    // One row in ten: the room fillfactor leaves on a page takes the new
    // versions of a few rows in one transaction (later ones prune the dead).
    for (const auto& row :
         nt.exec("SELECT task_id FROM discovery_queue WHERE entity_id % 10 = 0 ORDER BY task_id")) {
      ids.push_back(row[0].as<int64_t>());
    }
  }
  pqxx::work w(c);
  // Leases that ran out in 2000, then promoted in 2027.
  auto leased = w.exec_params(queue_sql::kLeaseChosen, PgArray(ids),
                              queue_sql::SlotsByTaskId(ids, std::vector<int64_t>(ids.size(), 1)),
                              PgTextArray({"2000-01-01T00:00:00Z"}), PgTextArray({"a"}));
  ASSERT_EQ(leased.size(), ids.size());
  auto promoted = w.exec_params(queue_sql::kPromoteChosen, "2027-01-15T08:00:00Z", PgArray(ids));
  ASSERT_EQ(promoted.size(), ids.size());
  auto row = w.exec1(
      "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
      " WHERE relname = 'discovery_queue'");
  EXPECT_EQ(row[0].as<int64_t>(), 200);
  EXPECT_EQ(row[1].as<int64_t>(), 200) << "every update of the queue's rows was HOT";
}

}  // namespace
}  // namespace sluice::testing
