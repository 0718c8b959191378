// Re-syncing known entities updates their rows in place (HOT): the entity
// tables leave room on each page (db/migrations/0021_hot_entities.sql), so an
// upsert that changes no indexed column writes no index entry and leaves none
// dead behind.
#include "server/workflows/esi/entity_writer.h"

#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "common/time_util.h"
#include "server/store/pg_pool.h"
#include "tests/support/migrated_pool.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

v1::EntityRecord Alliance(int64_t id) {
  v1::EntityRecord r;
  auto* a = r.mutable_alliance();
  a->set_alliance_id(id);
  a->set_name("Alliance " + std::to_string(id));
  a->set_ticker("ALLY");
  a->set_executor_corporation_id(98000001);
  return r;
}

v1::EntityRecord Corporation(int64_t id, int members) {
  v1::EntityRecord r;
  auto* c = r.mutable_corporation();
  c->set_corporation_id(id);
  c->set_name("Corp " + std::to_string(id));
  c->set_ticker("CRP");
  c->set_member_count(members);
  c->set_alliance_id(99000001);
  return r;
}

v1::EntityRecord Character(int64_t id, double security) {
  v1::EntityRecord r;
  auto* ch = r.mutable_character();
  ch->set_character_id(id);
  ch->set_name("Pilot " + std::to_string(id));
  ch->set_corporation_id(98000001);
  ch->set_security_status(security);
  return r;
}

class EntityWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = MigratedPool(db_.dsn(), 1);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
  }

  TestDatabase db_;
  std::unique_ptr<PgPool> pool_;
};

TEST_F(EntityWriterTest, ResyncOfKnownEntitiesUpdatesEveryRowInPlace) {
  const TimePoint day1 = FromUnixSeconds(1'800'000'000);
  pqxx::connection c(db_.dsn());
  {
    std::vector<v1::EntityRecord> first;
    for (int i = 0; i < 1000; ++i) {
      first.push_back(Alliance(99000000 + i));
      first.push_back(Corporation(98000000 + i, 10));
      first.push_back(Character(2112000000 + i, 0.5));
    }
    pqxx::work w(c);
    ASSERT_EQ(WriteEntityRecords(w, first, day1), 3000);
    w.commit();
  }
  // A day later one entity in ten comes back changed (a re-sync follows
  // urgency, so the rows it rewrites are scattered over the table), with the
  // same values in the indexed columns (corporation, alliance).
  std::vector<v1::EntityRecord> again;
  for (int i = 0; i < 1000; i += 10) {
    again.push_back(Alliance(99000000 + i));
    again.push_back(Corporation(98000000 + i, 11));
    again.push_back(Character(2112000000 + i, -1.5));
  }
  pqxx::work w(c);
  ASSERT_EQ(WriteEntityRecords(w, again, day1 + std::chrono::hours(24)), 300);
  for (const char* table : {"alliance_static", "alliance_ephemeral", "corporation_static",
                            "corporation_ephemeral", "character_static", "character_ephemeral"}) {
    auto row = w.exec_params1(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relname = $1",
        std::string(table));
    EXPECT_EQ(row[0].as<int64_t>(), 100) << table;
    EXPECT_EQ(row[1].as<int64_t>(), 100) << table << ": every re-synced row updated in place";
  }
  EXPECT_EQ(w.exec1("SELECT security_status FROM character_ephemeral WHERE character_id = "
                    "2112000010")[0]
                .as<double>(),
            -1.5);
}

}  // namespace
}  // namespace sluice::testing
