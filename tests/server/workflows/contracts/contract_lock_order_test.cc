// Every writer of the contract workflow takes a region's open run row before
// the region's contracts (ContractStore::LockRunsOfContracts). A batch of item
// lists that locked a contract first and then waited for its region's run row
// deadlocked with a region's listing, which holds the run row and writes the
// region's contracts (seen in the full-size demo: PostgreSQL 40P01 "while
// locking tuple ... in relation contract_region_runs").
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <atomic>
#include <thread>

#include "common/clock.h"
#include "server/queue/task_kinds.h"
#include "server/store/pg_pool.h"
#include "server/store/task_extension.h"
#include "server/workflows/contracts/contract_extensions.h"
#include "server/workflows/contracts/contract_store.h"
#include "tests/support/migrated_pool.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

constexpr int64_t kRegionA = 10000002;
constexpr int64_t kRegionB = 10000043;
constexpr int64_t kContractInA = 500;
constexpr int64_t kContractInB = 400;  // lower id, other region

class ContractLockOrderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto migrated = MigratedPool(db_.dsn(), 1);
    ASSERT_TRUE(migrated.ok()) << migrated.status();
    ASSERT_TRUE(RegisterContractKinds(ContractStoreSettings{}, kinds_, extensions_).ok());
    db_.Query(
        "INSERT INTO contract_region_runs (run_id, region_id, queued_at) VALUES "
        "('run-1', " +
        std::to_string(kRegionA) + ", now()), ('run-1', " + std::to_string(kRegionB) + ", now())");
    for (auto [contract, region] : {std::pair{kContractInA, kRegionA}, {kContractInB, kRegionB}}) {
      db_.Query(
          "INSERT INTO contracts (contract_id, region_id, type, issuer_id, issuer_corporation_id,"
          " date_issued, date_expired, first_seen_at, last_seen_at) VALUES (" +
          std::to_string(contract) + ", " + std::to_string(region) +
          ", 'item_exchange', 90000001, 98000001, now(), now() + interval '1 day', now(), now())");
    }
  }

  TestDatabase db_;
  TaskKindRegistry kinds_;
  TaskExtensionRegistry extensions_;
};

TEST_F(ContractLockOrderTest, ABatchOfItemListsLocksNoContractBeforeItsRegionsRunRows) {
  TaskExtension* items = extensions_.Find(contracts::kItemsKind);
  ASSERT_NE(items, nullptr);

  // Another writer holds region B's run row, as a listing of B does while it
  // writes B's contracts.
  pqxx::connection holder(db_.dsn());
  pqxx::work hold(holder);
  hold.exec("SELECT 1 FROM contract_region_runs WHERE region_id = " + std::to_string(kRegionB) +
            " FOR NO KEY UPDATE");

  // A batch with an item list (a 304) in each region, region A's first in
  // the batch's order.
  Completion in_a, in_b;
  in_a.not_modified = true;
  in_b.not_modified = true;
  const std::vector<ExtensionItem> batch = {
      ExtensionItem{ExtensionTask{1, contracts::kItemsKind, kContractInA, 3}, &in_a},
      ExtensionItem{ExtensionTask{2, contracts::kItemsKind, kContractInB, 3}, &in_b}};
  std::atomic<int> writer_pid{0};
  std::atomic<bool> applied{false};
  std::vector<absl::StatusOr<PayloadOutcome>> results;
  std::thread writer([&] {
    pqxx::connection c(db_.dsn());
    writer_pid = c.backendpid();
    pqxx::work w(c);
    results = items->ApplyAll(w, batch, SystemClock::Get()->Now());
    w.commit();
    applied = true;
  });

  EXPECT_TRUE(db_.AwaitLockWait(writer_pid, applied))
      << "the batch did not wait for region B's run row";
  EXPECT_FALSE(applied);
  pqxx::connection probe(db_.dsn());

  // Neither contract is locked yet: the listing holding B's run row could
  // still write both (before the fix, the batch held the contract in A and
  // A's run row, and would have taken B's contract before B's run row).
  for (int64_t contract : {kContractInA, kContractInB}) {
    pqxx::work check(probe);
    EXPECT_NO_THROW(check.exec("SELECT 1 FROM contracts WHERE contract_id = " +
                               std::to_string(contract) + " FOR UPDATE NOWAIT"))
        << "contract " << contract << " was locked before its region's run row";
    check.abort();
  }

  hold.commit();
  writer.join();
  ASSERT_TRUE(applied);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) EXPECT_TRUE(r.ok()) << r.status();
  // Each region counted its 304.
  EXPECT_EQ(db_.Count("SELECT sum(items_not_modified) FROM contract_region_runs"), 2);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contract_region_runs WHERE items_not_modified = 1"), 2);
}

}  // namespace
}  // namespace sluice::testing
