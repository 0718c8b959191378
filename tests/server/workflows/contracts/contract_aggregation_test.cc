// Contract aggregation end to end: the contract_aggregation job queues the
// regions, agents read every page and the item lists from the simulator, the
// coordinator stores, drops, classifies and counts.
#include <glog/logging.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "tests/server/workflows/contracts/contract_test_util.h"

namespace sluice::testing {
namespace {

// The ship rule recomputed in SQL from the stored items and types, for every
// classified item_exchange contract; counts contracts where it disagrees.
constexpr char kMisclassified[] = R"sql(
WITH ships AS (
  SELECT c.contract_id,
         count(*) FILTER (WHERE i.is_included AND u.group_id = ANY(
           '{25,26,27,28,30,419,420,463,513,831,832,834,900,1283}'::bigint[])) AS n
    FROM contracts c JOIN contract_items i ON i.contract_id = c.contract_id
    JOIN universe_types u ON u.type_id = i.type_id
   WHERE c.type = 'item_exchange'
   GROUP BY c.contract_id)
SELECT count(*) FROM contracts c JOIN ships s ON s.contract_id = c.contract_id
 WHERE c.is_ship_contract IS DISTINCT FROM (s.n = 1))sql";

class LineSink final : public google::LogSink {
 public:
  LineSink() { google::AddLogSink(this); }
  ~LineSink() override { google::RemoveLogSink(this); }
  void send(google::LogSeverity, const char*, const char*, int, const google::LogMessageTime&,
            const char* message, size_t len) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.emplace_back(message, len);
  }
  bool Contains(const std::string& a, const std::string& b = "") const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& l : lines_) {
      if (l.find(a) != std::string::npos && l.find(b) != std::string::npos) return true;
    }
    return false;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

class ContractAggregationTest : public ContractFixture {
 protected:
  void SetUp() override {
    ContractFixture::SetUp();
    StartCoordinator(db_.dsn());
    StartAgent();
  }
};

TEST_F(ContractAggregationTest, StoresEveryListedContractWithItemsAndClassifiesShips) {
  const auto started = std::chrono::steady_clock::now();
  const std::string run = RunJob();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(RunOutcome(run), "succeeded");

  EXPECT_EQ(StoredIds(kForge), SimListedIds(kForge));
  EXPECT_EQ(StoredIds(kDomain), SimListedIds(kDomain));
  const int64_t contracts = db_.Count("SELECT count(*) FROM contracts");
  EXPECT_EQ(contracts, 2 * kPerRegion);
  // Every item_exchange/auction contract has its items; couriers have none.
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contracts WHERE type <> 'courier' "
                      "AND items_fetched_at IS NULL"),
            0);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contract_items i JOIN contracts c USING (contract_id) "
                      "WHERE c.type = 'courier'"),
            0);
  // Every item_exchange contract is classified, by the rule.
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contracts WHERE type = 'item_exchange' "
                      "AND is_ship_contract IS NULL"),
            0);
  EXPECT_EQ(db_.Count(kMisclassified), 0);
  const int64_t ships = db_.Count("SELECT count(*) FROM contracts WHERE is_ship_contract");
  EXPECT_GT(ships, 20);
  // A ship contract carries its ship item's fields.
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contracts c WHERE is_ship_contract AND NOT EXISTS ("
                      "SELECT 1 FROM contract_items i WHERE i.contract_id = c.contract_id "
                      "AND i.is_included AND i.type_id = c.ship_type_id "
                      "AND i.quantity = c.quantity)"),
            0);
  EXPECT_GT(db_.Count("SELECT count(*) FROM contracts WHERE is_ship_contract "
                      "AND contains_additional_items"),
            0);
  EXPECT_GT(db_.Count("SELECT count(*) FROM contracts WHERE is_ship_contract AND quantity > 1"), 0);
  // Every type an item names was fetched into the cache.
  EXPECT_EQ(db_.Count("SELECT count(DISTINCT type_id) FROM contract_items WHERE type_id NOT IN "
                      "(SELECT type_id FROM universe_types)"),
            0);

  const int64_t items = db_.Count("SELECT count(*) FROM contract_items");
  const int64_t item_lists = db_.Count("SELECT count(*) FROM contracts WHERE type <> 'courier'");
  EXPECT_EQ(RunCounter(run, "cache_misses"), 2 * kPages + item_lists);
  EXPECT_EQ(RunCounter(run, "cache_hits"), 0);
  EXPECT_EQ(RunCounter(run, "errors"), 0);
  EXPECT_EQ(RunCounter(run, "rows_upserted"), contracts + items);
  EXPECT_EQ(RunCounter(run, "tasks_queued"), 2 + item_lists);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM dead_tasks"), 0);
  LOG(INFO) << "FIGURE first run: " << contracts << " contracts, " << items << " items, "
            << 2 * kPages << " pages, " << ships << " ship contracts, upstream calls "
            << RunCounter(run, "upstream_calls") << ", " << seconds << " s";
}

TEST_F(ContractAggregationTest, SecondRunWithUnchangedPagesGets304sAndWritesNothing) {
  ASSERT_EQ(RunOutcome(RunJob()), "succeeded");
  const std::string before =
      db_.Query("SELECT count(*) || '/' || max(last_modified) FROM contracts");
  const int64_t items = db_.Count("SELECT count(*) FROM contract_items");
  const int64_t not_modified = sim_->Stats()["not_modified"].get<int64_t>();
  const auto started = std::chrono::steady_clock::now();
  const std::string second = RunJob();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_EQ(RunOutcome(second), "succeeded");
  EXPECT_EQ(RunCounter(second, "cache_hits"), 2 * kPages);
  EXPECT_EQ(RunCounter(second, "cache_misses"), 0);
  EXPECT_EQ(RunCounter(second, "rows_upserted"), 0);
  EXPECT_EQ(RunCounter(second, "upstream_calls"), 2 * kPages);
  EXPECT_EQ(sim_->Stats()["not_modified"].get<int64_t>() - not_modified, 2 * kPages);
  EXPECT_EQ(db_.Query("SELECT count(*) || '/' || max(last_modified) FROM contracts"), before);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contract_items"), items);
  // Each page keeps the Expires of its last answer, a 304's too.
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contract_region_pages WHERE expires_at IS NOT NULL"),
            2 * kPages);
  LOG(INFO) << "FIGURE second run: 304 ratio " << RunCounter(second, "cache_hits") << "/"
            << RunCounter(second, "upstream_calls") << " pages, " << seconds << " s";
}

TEST_F(ContractAggregationTest, DropsContractsNoLongerListed) {
  ASSERT_EQ(RunOutcome(RunJob()), "succeeded");
  const std::set<int64_t> first = StoredIds(kForge);
  // 20 contracts per region expire and 20 new ones appear.
  sim_clock_.Advance(std::chrono::seconds(20 * kLifetimeS / kPerRegion + 1));
  const std::set<int64_t> listed = SimListedIds(kForge);
  ASSERT_NE(listed, first);
  const std::string run = RunJob();
  ASSERT_EQ(RunOutcome(run), "succeeded");
  EXPECT_EQ(StoredIds(kForge), listed);
  EXPECT_EQ(StoredIds(kDomain), SimListedIds(kDomain));
  int64_t gone = 0;
  for (int64_t id : first) gone += listed.count(id) == 0 ? 1 : 0;
  EXPECT_EQ(gone, 20);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contract_items WHERE contract_id = " +
                      std::to_string(*first.begin())),
            0);
  EXPECT_EQ(db_.Count("SELECT sum(contracts_deleted) FROM contract_region_runs WHERE run_id = '" +
                      run + "'"),
            40);
  // Only the new contracts' item lists were fetched.
  std::string new_ids;
  for (int64_t id : listed) {
    if (first.count(id) == 0) new_ids += (new_ids.empty() ? "" : ",") + std::to_string(id);
  }
  EXPECT_EQ(db_.Count("SELECT sum(items_queued) FROM contract_region_runs WHERE run_id = '" + run +
                      "' AND region_id = 10000002"),
            db_.Count("SELECT count(*) FROM contracts WHERE type <> 'courier' "
                      "AND contract_id IN (" +
                      new_ids + ")"));
}

TEST_F(ContractAggregationTest, PoisonContractsAreSkippedAndTheRegionCompletes) {
  LineSink sink;
  const int64_t malformed =
      SimPost("/sim/contracts/poison?region_id=10000002&mode=malformed")["contract_id"];
  const int64_t refused =
      SimPost("/sim/contracts/poison?region_id=10000002&mode=db")["contract_id"];
  const std::string run = RunJob();
  ASSERT_EQ(RunOutcome(run), "succeeded");

  // The rest of the region is stored: every listed contract but the poison.
  std::set<int64_t> expected = SimListedIds(kForge);
  ASSERT_EQ(expected.size(), static_cast<size_t>(kPerRegion + 2));
  expected.erase(malformed);
  expected.erase(refused);
  EXPECT_EQ(StoredIds(kForge), expected);
  EXPECT_EQ(StoredIds(kDomain), SimListedIds(kDomain));

  // Logged with the run id and the contract id, counted, kept for operators.
  EXPECT_TRUE(sink.Contains(
      "[run " + run + "] contract " + std::to_string(malformed) + " skipped: ", "issuer_id"));
  EXPECT_TRUE(sink.Contains("[run " + run + "] contract " + std::to_string(refused) + " skipped: ",
                            "contracts_dates_ordered"));
  EXPECT_EQ(RunCounter(run, "errors"), 2);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contract_skips WHERE run_id = '" + run +
                      "' AND contract_id IN (" + std::to_string(malformed) + "," +
                      std::to_string(refused) + ")"),
            2);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM dead_tasks"), 0);
}

TEST_F(ContractAggregationTest, AnItemListThatBreaksTheSchemaSkipsItsContractAtTheFirstAnswer) {
  const int64_t poison =
      SimPost("/sim/contracts/poison?region_id=10000002&mode=items_malformed")["contract_id"];
  const std::string run = RunJob();
  ASSERT_EQ(RunOutcome(run), "succeeded");

  // Fetched once: the same answer would come every time.
  EXPECT_EQ(sim_->Stats()["contracts"]["poison_item_fetches"].get<int64_t>(), 1);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contract_skips WHERE run_id = '" + run +
                      "' AND region_id = 10000002 AND contract_id = " + std::to_string(poison) +
                      " AND reason LIKE 'items: %quantity%'"),
            1)
      << db_.Query("SELECT string_agg(reason, ' | ') FROM contract_skips");
  EXPECT_EQ(RunCounter(run, "errors"), 1) << "the skip is counted on the run";
  EXPECT_EQ(db_.Count("SELECT count(*) FROM dead_tasks WHERE kind = 'contract_items' AND "
                      "attempts = 1 AND entity_id = " +
                      std::to_string(poison)),
            1);
  // The contract stays listed, marked; its region's other item lists are in.
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contracts WHERE items_error IS NOT NULL"), 1);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contracts WHERE type IN ('item_exchange', "
                      "'auction') AND items_fetched_at IS NULL AND contract_id <> " +
                      std::to_string(poison)),
            0);
}

TEST_F(ContractAggregationTest, ATruncatedItemListIsFetchedOnceMoreThenSkipped) {
  const int64_t poison =
      SimPost("/sim/contracts/poison?region_id=10000043&mode=items_truncated")["contract_id"];
  const std::string run = RunJob();
  ASSERT_EQ(RunOutcome(run), "succeeded");
  // A run waits for first attempts only; the second fetch comes after the
  // retry's backoff.
  const std::string dead =
      "SELECT count(*) FROM dead_tasks WHERE entity_id = " + std::to_string(poison);
  for (int i = 0; i < 300 && db_.Count(dead) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  EXPECT_EQ(sim_->Stats()["contracts"]["poison_item_fetches"].get<int64_t>(), 2);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM contract_skips WHERE region_id = 10000043 AND "
                      "contract_id = " +
                      std::to_string(poison) + " AND reason LIKE 'items: %malformed JSON%'"),
            1)
      << db_.Query("SELECT string_agg(reason, ' | ') FROM contract_skips");
  EXPECT_EQ(db_.Count("SELECT count(*) FROM dead_tasks WHERE attempts = 2 AND entity_id = " +
                      std::to_string(poison)),
            1);
}

}  // namespace
}  // namespace sluice::testing
