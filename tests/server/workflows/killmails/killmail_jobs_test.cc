// The killmail_sync and scan_entities jobs, on a coordinator whose clock is
// a FakeClock: who is queued, at which priority, and what a manual request
// does against them.
#include "tests/server/workflows/killmails/killmail_test_util.h"

#include "server/queue/task_kinds.h"

namespace sluice::testing {
namespace {

class KillmailJobsTest : public KillmailFixture {
 protected:
  KillmailJobsTest() : clock_(std::chrono::system_clock::now()) {}

  CoordinatorOptions CoordinatorOptionsForTest() override {
    CoordinatorOptions co = KillmailFixture::CoordinatorOptionsForTest();
    co.clock = &clock_;
    return co;
  }

  // A token row whose last sync was `ago` before the fake now (nullopt =
  // never), expiring `expires_in` after it.
  void Token(int64_t character, std::optional<Duration> ago,
             Duration expires_in = std::chrono::hours(1)) {
    db_.Query(
        "INSERT INTO character_tokens (character_id, access_token, expires_at, "
        "last_killmail_sync_at) VALUES (" +
        std::to_string(character) + ", 'tok', '" + FormatRfc3339(clock_.Now() + expires_in) +
        "', " + (ago ? "'" + FormatRfc3339(clock_.Now() - *ago) + "'" : std::string("NULL")) + ")");
  }

  // Runs a job now and waits for it; returns its job_runs row's tasks_queued.
  int64_t RunJob(const std::string& name) {
    auto run_id = coordinator_->scheduler()->RunNow(name);
    EXPECT_TRUE(run_id.ok()) << run_id.status();
    if (!run_id.ok()) return -1;
    EXPECT_TRUE(coordinator_->scheduler()->WaitUntilIdle(std::chrono::seconds(30)));
    EXPECT_EQ(db_.Query("SELECT outcome FROM job_runs WHERE run_id = '" + *run_id + "'"),
              "succeeded");
    return db_.Count("SELECT tasks_queued FROM job_runs WHERE run_id = '" + *run_id + "'");
  }

  std::string Queued(const std::string& kind) {
    return db_.Query(
        "SELECT coalesce(string_agg(entity_id::text || ':' || priority::text, ',' "
        "ORDER BY entity_id), '') FROM discovery_queue WHERE kind = '" +
        kind + "'");
  }

  FakeClock clock_;
};

TEST_F(KillmailJobsTest, QueuesOnlyTokenHoldersNotSyncedFor15MinutesAtBackground) {
  using std::chrono::minutes;
  Token(101, std::nullopt);               // never synced: due
  Token(102, minutes(10));                // fresh: not due
  Token(103, minutes(20));                // stale: due
  Token(104, std::nullopt, -minutes(1));  // token expired: skipped
  Token(105, minutes(16));                // stale, but a manual request is queued
  ASSERT_TRUE(coordinator_->queue()->Enqueue("character_killmails", {105}, Priority::kManual).ok());

  EXPECT_EQ(RunJob("killmail_sync"), 2);
  EXPECT_EQ(Queued("character_killmails"), "101:3,103:3,105:5");

  // The manual request outranks the background ones.
  auto leased = coordinator_->queue()->Lease("t", {"character_killmails"}, 1,
                                             std::chrono::seconds(30), Duration::zero());
  ASSERT_TRUE(leased.ok()) << leased.status();
  ASSERT_EQ(leased->size(), 1u);
  EXPECT_EQ(leased->front().entity_id, 105);

  // Six minutes later 102 is stale too; queued rows are not queued twice.
  clock_.Advance(minutes(6));
  EXPECT_EQ(RunJob("killmail_sync"), 1);
  EXPECT_EQ(Queued("character_killmails"), "101:3,102:3,103:3,105:5");
}

TEST_F(KillmailJobsTest, ManualRequestAfterTheJobRaisesThePriority) {
  Token(201, std::nullopt);
  Token(202, std::nullopt);
  EXPECT_EQ(RunJob("killmail_sync"), 2);
  auto out = coordinator_->queue()->Enqueue("character_killmails", {202}, Priority::kManual);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->already_queued, 1);
  EXPECT_EQ(Queued("character_killmails"), "201:3,202:5");
  auto leased = coordinator_->queue()->Lease("t", {"character_killmails"}, 1,
                                             std::chrono::seconds(30), Duration::zero());
  ASSERT_TRUE(leased.ok() && leased->size() == 1u);
  EXPECT_EQ(leased->front().entity_id, 202);
}

TEST_F(KillmailJobsTest, ScanEntitiesQueuesMissingParticipantsOnce) {
  db_.Query("INSERT INTO killmails (killmail_id, killmail_hash) VALUES (1, 'a'), (2, 'b')");
  db_.Query(
      "INSERT INTO killmail_participants (killmail_id, position, character_id, "
      "corporation_id, alliance_id, ship_type_id, is_victim) VALUES "
      "(1, 0, 91000001, 98000001, 99000001, 587, true), "
      "(1, 1, 91000002, 98000002, NULL, 641, false), "
      "(2, 0, 91000002, 98000003, 99000001, 587, true), "
      "(2, 1, NULL, 98000004, NULL, NULL, false)");
  // Stored, dead-lettered and already queued ids are left alone.
  db_.Query("INSERT INTO character_static (character_id, name) VALUES (91000001, 'Known')");
  db_.Query(
      "INSERT INTO dead_tasks (kind, entity_id, attempts, failed_at) VALUES "
      "('corporation', 98000004, 3, now())");
  ASSERT_TRUE(coordinator_->queue()->Enqueue("corporation", {98000003}, Priority::kUser).ok());

  const int64_t types = coordinator_->queue()->kinds().Find("universe_type") != nullptr ? 2 : 0;
  EXPECT_EQ(RunJob("scan_entities"), 1 + 2 + 1 + types);
  EXPECT_EQ(Queued("character"), "91000002:3");
  EXPECT_EQ(Queued("corporation"), "98000001:3,98000002:3,98000003:7");
  EXPECT_EQ(Queued("alliance"), "99000001:3");
  if (types > 0) {
    EXPECT_EQ(Queued("universe_type"), "587:3,641:3");
  }
  EXPECT_EQ(RunJob("scan_entities"), 0);
}

}  // namespace
}  // namespace sluice::testing
