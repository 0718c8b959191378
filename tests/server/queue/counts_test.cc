// Queue status from counters kept in the changes' own transactions
// (db/migrations/0010_queue_counts.sql): after any mix of enqueues, leases,
// completions, backoffs and dead letters they equal what a count of the
// rows says, and reading them does not scan the queue.
#include <gtest/gtest.h>

#include <map>
#include <pqxx/pqxx>

#include "tests/server/queue/queue_fixture.h"

namespace sluice::testing {
namespace {

using std::chrono::seconds;

class CountsTest : public QueueFixture {
 protected:
  // kind -> {ready, leased, retrying, dead} counted from the rows, with
  // leases and backoffs past their end counted as ready, as Stats does.
  std::map<std::string, std::vector<int64_t>> Counted() {
    pqxx::connection c(db_->dsn());
    pqxx::read_transaction r(c);
    const std::string now = "to_timestamp(" + std::to_string(ToUnixSeconds(clock_.Now())) + ")";
    std::map<std::string, std::vector<int64_t>> out;
    for (const auto& row :
         r.exec("SELECT kind, count(*) FILTER (WHERE state = 0 OR available_at <= " + now +
                "),"
                " count(*) FILTER (WHERE state = 1 AND available_at > " +
                now +
                "),"
                " count(*) FILTER (WHERE state = 2 AND available_at > " +
                now +
                "), 0"
                " FROM discovery_queue GROUP BY kind"
                " UNION ALL SELECT kind, 0, 0, 0, count(*) FROM dead_tasks GROUP BY kind")) {
      auto& v = out[row[0].c_str()];
      v.resize(4);
      for (int i = 0; i < 4; ++i) v[i] += row[i + 1].as<int64_t>();
    }
    return out;
  }

  std::map<std::string, std::vector<int64_t>> FromStats() {
    auto stats = queue_->Stats();
    EXPECT_TRUE(stats.ok()) << stats.status();
    std::map<std::string, std::vector<int64_t>> out;
    if (!stats.ok()) return out;
    for (const KindStats& k : *stats) out[k.kind] = {k.ready, k.leased, k.retrying, k.dead};
    return out;
  }
};

TEST_F(CountsTest, CountersEqualTheRowsAfterEveryKindOfChange) {
  std::vector<int64_t> ids;
  for (int i = 1; i <= 300; ++i) ids.push_back(98000000 + i);
  ASSERT_TRUE(queue_->Enqueue("corporation", ids, Priority::kBackground).ok());
  ASSERT_TRUE(queue_->Enqueue("character", {2112000001, 2112000002}, Priority::kUser).ok());
  // A re-enqueue at a higher priority moves no row between states.
  ASSERT_TRUE(queue_->Enqueue("corporation", {98000001}, Priority::kManual).ok());
  EXPECT_EQ(FromStats(), Counted());

  // The manual one first (claims take the highest priority with work).
  ASSERT_EQ(LeaseOrDie({"corporation"}, 120, "agent-b", seconds(30)).size(), 1u);
  auto leased = LeaseOrDie({"corporation"}, 120, "agent-a", seconds(30));
  ASSERT_EQ(leased.size(), 120u);
  EXPECT_EQ(FromStats(), Counted());

  // Completions (which discover and queue more), transient failures,
  // permanent failures (dead letters) and a handed-back lease.
  for (size_t i = 0; i < 40; ++i) {
    Completion c;
    c.task_id = leased[i].task_id;
    c.fencing_token = leased[i].fencing_token;
    c.agent_id = "agent-a";
    v1::EntityRecord r;
    auto* corp = r.mutable_corporation();
    corp->set_corporation_id(leased[i].entity_id);
    corp->set_name("Corp");
    corp->set_ticker("CRP");
    corp->set_ceo_id(2112000003);
    c.payload = Records({r});
    c.discovered.push_back({"character", {2112000003 + static_cast<int64_t>(i)}, false});
    ASSERT_TRUE(queue_->Complete(c).ok());
  }
  for (size_t i = 40; i < 80; ++i) {
    Failure f{leased[i].task_id, leased[i].fencing_token, "agent-a", /*permanent=*/i % 2 == 0,
              seconds(60),       "upstream said no",      500};
    ASSERT_TRUE(queue_->Fail(f).ok());
  }
  Failure release{
      leased[80].task_id, leased[80].fencing_token, "agent-a", false, seconds(0), "handed back", 0};
  release.release = true;
  ASSERT_TRUE(queue_->Fail(release).ok());
  EXPECT_EQ(FromStats(), Counted());

  // Leases and backoffs run out: ready again before any claim promotes them.
  clock_.Advance(seconds(120));
  EXPECT_EQ(FromStats(), Counted());
  ASSERT_FALSE(LeaseOrDie({"corporation"}, 1000).empty());  // promotes and leases
  EXPECT_EQ(FromStats(), Counted());

  // A TRUNCATE fires no DML trigger; the counts restart from zero.
  Exec("TRUNCATE discovery_queue");
  EXPECT_EQ(FromStats(), Counted());
  ASSERT_TRUE(queue_->Enqueue("alliance", {99000001, 99000002}, Priority::kManual).ok());
  EXPECT_EQ(FromStats(), Counted());
}

TEST_F(CountsTest, StatusReadsCountersNotTheQueue) {
  Exec(
      "INSERT INTO discovery_queue (kind, entity_id, priority, weight, last_modified, enqueued_at)"
      " SELECT 'character', g, 3, 1, to_timestamp(1800000000 - g), to_timestamp(1700000000 + g)"
      " FROM generate_series(1, 50000) g");
  Exec("ANALYZE discovery_queue");
  // One connection, so the statistics it gathers can be flushed from it.
  PgPool::Options o;
  o.dsn = db_->dsn();
  o.size = 1;
  PgPool one(o);
  PgQueueStore store(&one, &kinds_, &extensions_);
  const auto seq_scans = [&] {
    EXPECT_TRUE(one.Run([](pqxx::connection& c) {
                     pqxx::nontransaction(c).exec("SELECT pg_stat_force_next_flush()");
                     return absl::OkStatus();
                   })
                    .ok());
    return std::stoll(
        db_->Query("SELECT seq_scan FROM pg_stat_user_tables"
                   " WHERE relname = 'discovery_queue'"));
  };
  // A store's first call loads its ready and due indexes from the table
  // (one scan, at a coordinator's start); from then on status reads the
  // counters and those indexes.
  ASSERT_TRUE(store.Stats(clock_.Now()).ok());
  const int64_t before = seq_scans();
  auto stats = store.Stats(clock_.Now());
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->size(), 1u);
  EXPECT_EQ((*stats)[0].ready, 50000);
  EXPECT_DOUBLE_EQ((*stats)[0].oldest_age_seconds, 1800000000.0 - 1700000001.0);
  EXPECT_EQ(seq_scans(), before) << "status scanned the queue table";
  // The check can see a scan: a count of the rows is one.
  ASSERT_TRUE(one.Run([](pqxx::connection& c) {
                   pqxx::nontransaction(c).exec("SELECT count(*) FROM discovery_queue");
                   return absl::OkStatus();
                 })
                  .ok());
  EXPECT_EQ(seq_scans(), before + 1);
}

}  // namespace
}  // namespace sluice::testing
