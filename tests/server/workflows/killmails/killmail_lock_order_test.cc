// A batch of character killmail lists inserts the killmails they name in one
// order, by id, before any character's own writes. Characters share
// killmails, and one insert per character (each in id order, but not in one
// order across the batch) deadlocked when two batches met the same ids in
// opposite orders (seen in the demo: PostgreSQL 40P01 "while inserting index
// tuple ... in relation killmails").
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <atomic>
#include <thread>

#include "common/clock.h"
#include "server/queue/task_kinds.h"
#include "server/store/payload_codec.h"
#include "server/store/pg_pool.h"
#include "server/store/task_extension.h"
#include "server/workflows/killmails/killmail_kinds.h"
#include "sluice/v1/killmails.pb.h"
#include "tests/support/migrated_pool.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

Completion KillmailList(int64_t killmail_id) {
  v1::CharacterKillmailsResult result;
  v1::KillmailRef* ref = result.add_refs();
  ref->set_killmail_id(killmail_id);
  ref->set_killmail_hash("hash" + std::to_string(killmail_id));
  Completion c;
  c.payload = PackPayload(result);
  return c;
}

TEST(KillmailLockOrderTest, ABatchInsertsItsKillmailsInIdOrderBeforeAnyCharactersWrites) {
  TestDatabase db;
  const auto migrated = MigratedPool(db.dsn(), 1);
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  TaskKindRegistry kinds;
  TaskExtensionRegistry extensions;
  ASSERT_TRUE(RegisterKillmailKinds(kinds, extensions, nullptr).ok());
  TaskExtension* lists = extensions.Find(kCharacterKillmailsKind);
  ASSERT_NE(lists, nullptr);

  // Another transaction is inserting killmail 7, as a batch that reached it
  // first does.
  pqxx::connection holder(db.dsn());
  pqxx::work hold(holder);
  hold.exec("INSERT INTO killmails (killmail_id, killmail_hash) VALUES (7, 'hash7')");

  // Character 1's list names killmail 9, character 2's names 7: in batch
  // order, 9 came first.
  const Completion first = KillmailList(9);
  const Completion second = KillmailList(7);
  const std::vector<ExtensionItem> batch = {
      ExtensionItem{ExtensionTask{1, kCharacterKillmailsKind, 2112000001, 3}, &first},
      ExtensionItem{ExtensionTask{2, kCharacterKillmailsKind, 2112000002, 3}, &second}};
  std::atomic<int> writer_pid{0};
  std::atomic<bool> applied{false};
  std::vector<absl::StatusOr<PayloadOutcome>> results;
  std::thread writer([&] {
    pqxx::connection c(db.dsn());
    writer_pid = c.backendpid();
    pqxx::work w(c);
    results = lists->ApplyAll(w, batch, SystemClock::Get()->Now());
    w.commit();
    applied = true;
  });

  EXPECT_TRUE(db.AwaitLockWait(writer_pid, applied)) << "the batch did not wait for killmail 7";
  EXPECT_FALSE(applied);
  pqxx::connection probe(db.dsn());

  // The batch waits at killmail 7 without holding 9: a third transaction
  // can insert 9 at once (before the change, the batch had inserted 9 for
  // character 1 and this insert waited for it).
  {
    pqxx::work check(probe);
    check.exec("SET LOCAL lock_timeout = '200ms'");
    EXPECT_NO_THROW(
        check.exec("INSERT INTO killmails (killmail_id, killmail_hash) VALUES (9, 'hash9')"))
        << "the batch held killmail 9 while it waited for killmail 7";
    check.abort();
  }

  hold.commit();
  writer.join();
  ASSERT_TRUE(applied);
  ASSERT_EQ(results.size(), 2u);
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  ASSERT_TRUE(results[1].ok()) << results[1].status();
  // Character 1 brought a new killmail and its link; killmail 7 was someone
  // else's insert, so character 2 wrote only its link.
  EXPECT_EQ(results[0]->records_written, 2);
  EXPECT_EQ(results[1]->records_written, 1);
  EXPECT_EQ(db.Count("SELECT count(*) FROM killmails"), 2);
  EXPECT_EQ(db.Count("SELECT count(*) FROM character_killmails"), 2);
}

}  // namespace
}  // namespace sluice::testing
