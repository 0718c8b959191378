// Migrations apply once, in order, are recorded, and a failure is reported
// with the migration's name and leaves that migration's changes out.
#include <gtest/gtest.h>

#include "db/migrations.h"
#include "server/store/lock_keys.h"
#include "server/store/migrator.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

class MigratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PgPool::Options o;
    o.dsn = db_.dsn();
    o.size = 2;
    pool_ = std::make_unique<PgPool>(o);
  }
  TestDatabase db_;
  std::unique_ptr<PgPool> pool_;
};

TEST_F(MigratorTest, AppliesAllOnceAndRecordsThem) {
  Migrator m(pool_.get(), EmbeddedMigrations());
  auto first = m.Apply();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->applied.size(), EmbeddedMigrations().size());
  EXPECT_EQ(first->current_version, EmbeddedMigrations().back().version);
  auto second = m.Apply();
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->applied.empty()) << "re-running applied something again";
  EXPECT_EQ(db_.Count("SELECT count(*) FROM schema_migrations"),
            static_cast<int64_t>(EmbeddedMigrations().size()));
}

TEST_F(MigratorTest, FailedMigrationStopsWithItsNameAndLeavesNothingOfIt) {
  std::vector<Migration> migrations = {
      {1, "0001_ok", "CREATE TABLE a (x INT)"},
      {2, "0002_broken", "CREATE TABLE b (x INT); SELECT no_such_function()"},
      {3, "0003_never", "CREATE TABLE c (x INT)"}};
  Migrator m(pool_.get(), migrations);
  auto r = m.Apply();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("0002_broken"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("no_such_function"), std::string::npos) << r.status();
  EXPECT_EQ(db_.Query("SELECT to_regclass('a')::text"), "a");
  EXPECT_EQ(db_.Query("SELECT to_regclass('b')::text"), "");
  EXPECT_EQ(db_.Query("SELECT to_regclass('c')::text"), "");
  EXPECT_EQ(db_.Query("SELECT max(version) FROM schema_migrations"), "1");
}

}  // namespace
}  // namespace sluice::testing
