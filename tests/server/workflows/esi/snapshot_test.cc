// Daily snapshots of alliances and corporations are idempotent per day:
// re-running a day replaces that day's rows, another day gets its own rows
// and never touches earlier ones.
#include "server/workflows/esi/snapshot_job.h"
#include "tests/server/scheduler/scheduler_fixture.h"

namespace sluice::testing {
namespace {

class SnapshotTest : public SchedulerFixture {
 protected:
  void Exec(const std::string& sql) {
    pqxx::connection c(db_.dsn());
    pqxx::nontransaction nt(c);
    nt.exec(sql);
  }

  void RunSnapshot() {
    SnapshotJob job(pool_.get());
    std::atomic<bool> cancelled{false};
    JobContext ctx("snapshots-test", &clock_, &cancelled);
    absl::Status s = job.Run(ctx);
    ASSERT_TRUE(s.ok()) << s;
    last_rows_upserted_ = ctx.counters().rows_upserted;
  }

  int64_t last_rows_upserted_ = 0;
};

TEST_F(SnapshotTest, IdempotentPerDay) {
  // Two alliances (one with no corporations), three corporations (one in no
  // alliance).
  Exec(
      "INSERT INTO alliance_static (alliance_id, name, ticker) VALUES "
      "(99000001, 'Alpha Alliance', 'ALPHA'), (99000002, 'Empty Alliance', 'EMPTY')");
  Exec(
      "INSERT INTO alliance_ephemeral (alliance_id, executor_corporation_id, faction_id) VALUES "
      "(99000001, 98000001, NULL), (99000002, NULL, 500001)");
  Exec(
      "INSERT INTO corporation_static (corporation_id, name, ticker) VALUES "
      "(98000001, 'Corp One', 'C1'), (98000002, 'Corp Two', 'C2'), (98000003, 'Loners', 'LONE')");
  Exec(
      "INSERT INTO corporation_ephemeral (corporation_id, member_count, ceo_id, alliance_id, "
      "tax_rate) "
      "VALUES (98000001, 120, 2112000001, 99000001, 0.1), (98000002, 30, 2112000002, 99000001, "
      "0.05), "
      "(98000003, 7, 2112000003, NULL, 0.0)");

  RunSnapshot();
  EXPECT_EQ(last_rows_upserted_, 5);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM alliance_snapshot"), 2);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM corporation_snapshot"), 3);
  EXPECT_EQ(db_.Query("SELECT day::text FROM alliance_snapshot LIMIT 1"), "2027-01-15");
  EXPECT_EQ(
      db_.Query("SELECT corporation_count || '/' || member_count || '/' || executor_corporation_id "
                "FROM alliance_snapshot WHERE alliance_id = 99000001"),
      "2/150/98000001");
  EXPECT_EQ(db_.Query("SELECT corporation_count || '/' || member_count || '/' || faction_id "
                      "FROM alliance_snapshot WHERE alliance_id = 99000002"),
            "0/0/500001");

  // Same day again: same rows.
  clock_.Advance(std::chrono::hours(2));
  RunSnapshot();
  EXPECT_EQ(db_.Count("SELECT count(*) FROM alliance_snapshot"), 2);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM corporation_snapshot"), 3);

  // A change later that day replaces that day's row.
  Exec("UPDATE corporation_ephemeral SET member_count = 125 WHERE corporation_id = 98000001");
  clock_.Advance(std::chrono::hours(1));
  RunSnapshot();
  EXPECT_EQ(db_.Count("SELECT count(*) FROM corporation_snapshot"), 3);
  EXPECT_EQ(
      db_.Query("SELECT member_count FROM corporation_snapshot WHERE corporation_id = 98000001"),
      "125");
  EXPECT_EQ(db_.Query("SELECT member_count FROM alliance_snapshot WHERE alliance_id = 99000001"),
            "155");

  // The next day (UTC) gets its own rows; the first day is untouched.
  Exec(
      "UPDATE corporation_ephemeral SET member_count = 140, tax_rate = 0.2 "
      "WHERE corporation_id = 98000001");
  clock_.Advance(std::chrono::hours(24));
  RunSnapshot();
  EXPECT_EQ(db_.Count("SELECT count(*) FROM alliance_snapshot"), 4);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM corporation_snapshot"), 6);
  EXPECT_EQ(db_.Query("SELECT member_count || '/' || tax_rate FROM corporation_snapshot "
                      "WHERE corporation_id = 98000001 AND day = '2027-01-15'"),
            "125/0.1");
  EXPECT_EQ(db_.Query("SELECT member_count || '/' || tax_rate FROM corporation_snapshot "
                      "WHERE corporation_id = 98000001 AND day = '2027-01-16'"),
            "140/0.2");
  EXPECT_EQ(
      db_.Query("SELECT string_agg(member_count::text, ',' ORDER BY day) FROM alliance_snapshot "
                "WHERE alliance_id = 99000001"),
      "155,170");
}

TEST_F(SnapshotTest, RunsAsAScheduledJob) {
  Exec(
      "INSERT INTO corporation_static (corporation_id, name, ticker) VALUES (98000001, 'Corp One', "
      "'C1')");
  Scheduler scheduler(db_.dsn(), store_.get(), &clock_, ManualOptions());
  scheduler.AddJob(std::make_unique<SnapshotJob>(pool_.get()), std::chrono::hours(24));
  scheduler.Start();
  auto run = scheduler.RunNow("snapshots");
  ASSERT_TRUE(run.ok()) << run.status();
  ASSERT_TRUE(scheduler.WaitUntilIdle(std::chrono::seconds(10)));
  EXPECT_EQ(Outcome(*run), "succeeded");
  EXPECT_EQ(RunColumn(*run, "rows_upserted"), "1");
}

}  // namespace
}  // namespace sluice::testing
