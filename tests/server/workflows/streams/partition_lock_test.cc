// poe_stash_raw_ensure_partition serializes creating a league's partitions on
// an advisory lock of its own class (lock_keys::kLeagueClass, two int4 keys),
// apart from the single bigint keys the migrator and the claim function lock.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "server/store/lock_keys.h"
#include "tests/support/migrated_pool.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

class PartitionLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = MigratedPool(db_.dsn(), 2);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
  }

  // Creates the league's partition for one day within `timeout_ms`; false if
  // it had to wait longer (for a lock).
  bool EnsureWithin(const std::string& league, int timeout_ms) {
    pqxx::connection c(db_.dsn());
    pqxx::work w(c);
    w.exec("SET LOCAL statement_timeout = " + std::to_string(timeout_ms));
    try {
      w.exec_params("SELECT poe_stash_raw_ensure_partition($1, '2027-01-15'::date)", league);
    } catch (const pqxx::sql_error&) {
      return false;
    }
    w.commit();
    return true;
  }

  static std::string PartitionHash(const std::string& league) {
    return "hashtext('poe_stash_raw_l' || substr(md5('" + league + "'), 1, 12))";
  }

  TestDatabase db_;
  std::unique_ptr<PgPool> pool_;
};

TEST_F(PartitionLockTest, InstalledPartitionFunctionLocksTheLeagueClass) {
  const std::string body = db_.Query(
      "SELECT pg_get_functiondef(p.oid) FROM pg_proc p "
      "WHERE p.proname = 'poe_stash_raw_ensure_partition'");
  EXPECT_NE(body.find("pg_advisory_xact_lock(" + std::to_string(lock_keys::kLeagueClass) +
                      ", hashtext(league_part))"),
            std::string::npos)
      << body;
  EXPECT_EQ(body.find("pg_advisory_xact_lock(hashtext("), std::string::npos)
      << "no lock left in the single bigint key space: " << body;
  EXPECT_NE(lock_keys::kLeagueClass, lock_keys::kJobClass);
}

TEST_F(PartitionLockTest, CreationWaitsForItsLeagueClassLockOnly) {
  pqxx::connection holder(db_.dsn());
  {
    // The same hash as a single bigint key: another key space, no wait.
    pqxx::work w(holder);
    w.exec("SELECT pg_advisory_xact_lock(" + PartitionHash("Settlers") + ")");
    EXPECT_TRUE(EnsureWithin("Settlers", 5000));
  }
  {
    pqxx::work w(holder);
    w.exec("SELECT pg_advisory_xact_lock(" + std::to_string(lock_keys::kLeagueClass) + ", " +
           PartitionHash("Standard") + ")");
    EXPECT_FALSE(EnsureWithin("Standard", 300)) << "the league's class lock is held";
  }
  EXPECT_TRUE(EnsureWithin("Standard", 5000)) << "released with its transaction";
  EXPECT_EQ(db_.Count("SELECT count(*) FROM pg_class WHERE relname LIKE 'poe_stash_raw_l%' "
                      "AND relname LIKE '%_20270115'"),
            2);
}

}  // namespace
}  // namespace sluice::testing
