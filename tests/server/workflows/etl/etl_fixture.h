// A migrated throwaway database with a FakeClock, and helpers that write the
// bronze tables the way the stream writers do (checkpoint row locked FOR
// UPDATE, partition ensured, rows inserted, commit).
#ifndef SLUICE_TESTS_SERVER_WORKFLOWS_ETL_ETL_FIXTURE_H_
#define SLUICE_TESTS_SERVER_WORKFLOWS_ETL_ETL_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "common/time_util.h"
#include "server/store/pg_pool.h"
#include "tests/support/migrated_pool.h"
#include "tests/support/test_database.h"

namespace sluice::testing {

class EtlFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pool = MigratedPool(db_.dsn(), 4);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(*pool);
  }

  static nlohmann::json Item(const std::string& id, const std::string& note,
                             const std::string& type_line = "Chaos Orb") {
    nlohmann::json j = {{"id", id}, {"typeLine", type_line}, {"baseType", type_line}, {"name", ""}};
    if (!note.empty()) j["note"] = note;
    return j;
  }

  // One stash version on page `change_id`, ingested at the clock's now.
  // (A vector, not a json: a braced single item would become the item itself.)
  void AddStash(const std::string& stash_id, const std::string& league,
                const std::vector<nlohmann::json>& items, const std::string& stash_name = "tab",
                bool is_public = true, const std::string& change_id = "1-1-1",
                const std::string& realm = "pc") {
    pqxx::connection c(db_.dsn());
    pqxx::work w(c);
    const std::string stream = "poe_stash:" + realm;
    const std::string now = FormatRfc3339(clock_.Now());
    w.exec_params(
        "INSERT INTO checkpoints (stream, cursor, updated_at) VALUES ($1, '', $2::timestamptz) "
        "ON CONFLICT DO NOTHING",
        stream, now);
    w.exec_params("SELECT 1 FROM checkpoints WHERE stream = $1 FOR UPDATE", stream);
    const std::string day = now.substr(0, 10);
    w.exec_params("SELECT poe_stash_raw_ensure_partition($1, $2::date)", league, day);
    w.exec_params(
        "INSERT INTO poe_stash_raw (realm, league, ingest_date, change_id, stash_id, account_name, "
        "stash_name, stash_type, public, items, ingested_at) VALUES ($1, $2, $3::date, $4, $5, "
        "'acct', $6, 'PremiumStash', $7, $8::jsonb, $9::timestamptz)",
        realm, league, day, change_id + ":" + std::to_string(++page_), stash_id, stash_name,
        is_public, nlohmann::json(items).dump(), now);
    w.commit();
  }

  // A market of one hour (unix seconds of its start).
  void AddMarket(int64_t hour, const std::string& league, const std::string& market_id,
                 const nlohmann::json& volume, const std::string& realm = "pc") {
    pqxx::connection c(db_.dsn());
    pqxx::work w(c);
    const std::string stream = "poe_exchange:" + realm;
    const std::string now = FormatRfc3339(clock_.Now());
    w.exec_params(
        "INSERT INTO checkpoints (stream, cursor, updated_at) VALUES ($1, '', $2::timestamptz) "
        "ON CONFLICT DO NOTHING",
        stream, now);
    w.exec_params("SELECT 1 FROM checkpoints WHERE stream = $1 FOR UPDATE", stream);
    w.exec_params(
        "INSERT INTO poe_exchange_raw (realm, hour, league, market_id, volume_traded, ingested_at) "
        "VALUES ($1, $2, $3, $4, $5::jsonb, $6::timestamptz)",
        realm, hour, league, market_id, volume.dump(), now);
    w.commit();
  }

  // Every row of a table as text, sorted: equal strings = equal tables.
  std::string Dump(const std::string& table) {
    return db_.Query("SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM " +
                     table + " t");
  }
  std::string Layers() {
    return Dump("poe_stash_silver") + "\n--\n" + Dump("poe_item_price_silver") + "\n--\n" +
           Dump("gold_currency_snapshot") + "\n--\n" + Dump("gold_stash_summary");
  }

  const TimePoint t0_ = FromUnixSeconds(1'800'000'000);  // 2027-01-15T08:00:00Z
  FakeClock clock_{t0_};
  TestDatabase db_;
  std::unique_ptr<PgPool> pool_;
  int page_ = 0;
};

}  // namespace sluice::testing

#endif  // SLUICE_TESTS_SERVER_WORKFLOWS_ETL_ETL_FIXTURE_H_
