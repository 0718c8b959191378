// The PoE silver/gold transforms against a real database: values, currency
// normalisation, idempotence, incremental reruns, resuming after a failure
// mid-batch, and the high-water mark that waits for writers in flight.
#include "server/workflows/etl/poe_transforms.h"

#include <gmock/gmock.h>

#include <future>

#include "tests/server/workflows/etl/etl_fixture.h"

namespace sluice::testing {
namespace {

using etl::PoeTransforms;
using std::chrono::hours;
using std::chrono::minutes;

constexpr int64_t kH = 1'800'000'000;  // t0_, an hour start

class PoeTransformsTest : public EtlFixture {
 protected:
  // Rates for Settlers: divine 100 chaos at hour t0-2h, 120 at t0-1h, 150 at
  // t0 (not ended before t0+1h).
  void AddRates() {
    AddMarket(kH - 7200, "Settlers", "chaos|divine", {{"chaos", 1000}, {"divine", 10}});
    AddMarket(kH - 3600, "Settlers", "chaos|divine", {{"chaos", 1200}, {"divine", 10}});
    AddMarket(kH, "Settlers", "chaos|divine", {{"chaos", 1500}, {"divine", 10}});
    AddMarket(kH - 3600, "Settlers", "divine|exalted", {{"divine", 1}, {"exalted", 5}});
  }

  void AddBasicStashes() {
    AddStash("s1", "Settlers",
             {Item("i1", "~price 5 chaos"), Item("i2", "~b/o 1/2 divine", "Divine Orb"),
              Item("i3", ""), Item("i4", "~price 2 exalted")});
    AddStash("s2", "Settlers", {Item("i5", ""), Item("i6", "~b/o 1 divine")}, "~price 10 chaos");
    AddStash("s3", "Standard", {Item("i7", "~price 3 divine")});
  }

  std::string Col(const std::string& sql) { return db_.Query(sql); }
};

TEST_F(PoeTransformsTest, BuildsSilverAndGoldWithChaosValues) {
  clock_.Set(t0_ + minutes(30));
  AddRates();
  AddBasicStashes();
  PoeTransforms t(pool_.get(), &clock_, 1000);
  auto pass = t.RunPass(10);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_TRUE(pass->caught_up);
  EXPECT_EQ(pass->raw_rows, 4 + 3);

  // Rates: 3 divine hours; the divine|exalted market has no chaos side.
  EXPECT_EQ(db_.Count("SELECT count(*) FROM gold_currency_snapshot"), 3);
  EXPECT_EQ(Col("SELECT ratio_to_chaos FROM gold_currency_snapshot WHERE hour = " +
                std::to_string(kH - 3600)),
            "120");

  EXPECT_EQ(db_.Count("SELECT count(*) FROM poe_stash_silver"), 3);
  EXPECT_EQ(Col("SELECT item_count || '/' || priced_items FROM poe_stash_silver "
                "WHERE stash_id='s1'"),
            "4/3");
  // Unpriced items are not in the price table; i5 takes its tab's price.
  EXPECT_EQ(db_.Count("SELECT count(*) FROM poe_item_price_silver"), 6);
  EXPECT_EQ(Col("SELECT price_in_chaos FROM poe_item_price_silver WHERE item_id='i1'"), "5");
  // 1/2 divine at the latest hour ended by t0+30min (t0-1h: 120).
  EXPECT_EQ(Col("SELECT price_in_chaos || ' ' || rate_hour FROM poe_item_price_silver "
                "WHERE item_id='i2'"),
            "60 " + std::to_string(kH - 3600));
  EXPECT_EQ(Col("SELECT price_kind || ' ' || price_source || ' ' || price_amount FROM "
                "poe_item_price_silver WHERE item_id='i5'"),
            "price stash 10");
  EXPECT_EQ(Col("SELECT price_source FROM poe_item_price_silver WHERE item_id='i6'"), "item");
  // No rate: NULL and a reason.
  EXPECT_EQ(Col("SELECT coalesce(price_in_chaos::text, 'null') FROM poe_item_price_silver "
                "WHERE item_id='i4'"),
            "null");
  EXPECT_THAT(Col("SELECT no_rate_reason FROM poe_item_price_silver WHERE item_id='i4'"),
              ::testing::HasSubstr("no exalted rate"));
  EXPECT_THAT(Col("SELECT no_rate_reason FROM poe_item_price_silver WHERE item_id='i7'"),
              ::testing::HasSubstr("Standard"));

  EXPECT_EQ(Col("SELECT stashes || ' ' || priced_items || ' ' || valued_items || ' ' || "
                "total_chaos FROM gold_stash_summary WHERE league = 'Settlers'"),
            // 5 + 60 + (i4 none) + 10 + 120
            "2 5 4 195");
  EXPECT_EQ(Col("SELECT stashes || ' ' || valued_items FROM gold_stash_summary "
                "WHERE league = 'Standard'"),
            "1 0");
  EXPECT_EQ(Col("SELECT cursor FROM checkpoints WHERE stream = 'etl:poe_stashes'"),
            Col("SELECT max(raw_id) FROM poe_stash_raw"));
}

TEST_F(PoeTransformsTest, RunningTwiceChangesNothing) {
  clock_.Set(t0_ + minutes(30));
  AddRates();
  AddBasicStashes();
  PoeTransforms t(pool_.get(), &clock_, 1000);
  ASSERT_TRUE(t.RunPass(10).ok());
  const std::string first = Layers();
  const std::string cursors =
      Col("SELECT string_agg(stream || '=' || cursor, ',' ORDER BY stream) FROM checkpoints");
  clock_.Advance(minutes(1));
  auto again = t.RunPass(10);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->raw_rows, 0);
  EXPECT_EQ(again->rows_written, 0);
  EXPECT_EQ(Layers(), first);
  EXPECT_EQ(Col("SELECT string_agg(stream || '=' || cursor, ',' ORDER BY stream) FROM checkpoints"),
            cursors);
}

TEST_F(PoeTransformsTest, RerunAfterNewRawRowsAppliesOnlyThose) {
  clock_.Set(t0_ + minutes(30));
  AddRates();
  AddBasicStashes();
  PoeTransforms t(pool_.get(), &clock_, 1000);
  ASSERT_TRUE(t.RunPass(10).ok());
  const std::string listed_i1 =
      Col("SELECT listed_at FROM poe_item_price_silver WHERE item_id='i1'");

  clock_.Set(t0_ + minutes(40));
  // s1: i2 sold, i1 unchanged, i4 repriced. s2 made private (PoE: league null,
  // no items).
  AddStash("s1", "Settlers", {Item("i1", "~price 5 chaos"), Item("i4", "~price 4 chaos")});
  AddStash("s2", "", {}, "", false);
  auto pass = t.RunPass(10);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->raw_rows, 2) << "only the new raw rows";

  EXPECT_EQ(db_.Count("SELECT count(*) FROM poe_item_price_silver WHERE item_id = 'i2'"), 0);
  EXPECT_EQ(Col("SELECT listed_at FROM poe_item_price_silver WHERE item_id='i1'"), listed_i1)
      << "same stash, same price: still the first listing";
  EXPECT_EQ(Col("SELECT price_in_chaos FROM poe_item_price_silver WHERE item_id='i4'"), "4");
  EXPECT_NE(Col("SELECT listed_at FROM poe_item_price_silver WHERE item_id='i4'"), listed_i1);
  EXPECT_EQ(Col("SELECT league || ' ' || public || ' ' || item_count FROM poe_stash_silver "
                "WHERE stash_id = 's2'"),
            "Settlers false 0");
  EXPECT_EQ(db_.Count("SELECT count(*) FROM poe_item_price_silver WHERE stash_id = 's2'"), 0);
  EXPECT_EQ(Col("SELECT stashes || ' ' || public_stashes || ' ' || priced_items || ' ' || "
                "total_chaos FROM gold_stash_summary WHERE league = 'Settlers'"),
            "2 1 2 9");
}

TEST_F(PoeTransformsTest, ResumesFromItsCheckpointAfterFailureMidBatch) {
  clock_.Set(t0_ + minutes(30));
  AddRates();
  AddBasicStashes();
  clock_.Advance(minutes(5));
  AddStash("s1", "Settlers", {Item("i1", "~price 6 chaos")});
  AddStash("s3", "Standard", {Item("i8", "~b/o 1 chaos")});

  // Batches of 2 raw rows; the second stash batch fails before its commit.
  PoeTransforms t(pool_.get(), &clock_, 2);
  int stash_batches = 0;
  t.set_before_commit_hook([&](const std::string& name) {
    if (name == etl::kStashTransform && ++stash_batches == 2) {
      return absl::InternalError("simulated crash");
    }
    return absl::OkStatus();
  });
  auto failed = t.RunPass(10);
  ASSERT_FALSE(failed.ok());
  const int64_t first_two = db_.Count(
      "SELECT max(raw_id) FROM (SELECT raw_id FROM poe_stash_raw ORDER BY raw_id LIMIT 2) r");
  EXPECT_EQ(db_.Count("SELECT cursor::bigint FROM checkpoints WHERE stream = 'etl:poe_stashes'"),
            first_two)
      << "the failed batch left the cursor after the first batch";
  EXPECT_EQ(db_.Count("SELECT count(*) FROM poe_stash_silver"), 2) << "s1, s2 only";

  t.set_before_commit_hook(nullptr);
  auto resumed = t.RunPass(10);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->raw_rows, 3) << "the rest, nothing twice";
  const std::string resumed_layers = Layers();

  // The same raw rows in one batch from scratch give the same layers.
  db_.Query(
      "DELETE FROM poe_item_price_silver; DELETE FROM poe_stash_silver; "
      "DELETE FROM gold_currency_snapshot; DELETE FROM gold_stash_summary; "
      "DELETE FROM checkpoints WHERE stream LIKE 'etl:%'");
  PoeTransforms whole(pool_.get(), &clock_, 1000);
  ASSERT_TRUE(whole.RunPass(10).ok());
  EXPECT_EQ(Layers(), resumed_layers);
  EXPECT_EQ(Col("SELECT price_amount FROM poe_item_price_silver WHERE item_id = 'i1'"), "6");
}

TEST_F(PoeTransformsTest, CurrencyNormalisationUsesLatestEndedHourPerLeague) {
  AddMarket(kH - 7200, "Settlers", "chaos|divine", {{"chaos", 1000}, {"divine", 10}});
  AddMarket(kH - 7200, "Hardcore Settlers", "divine|chaos", {{"chaos", 3000}, {"divine", 10}});
  AddMarket(kH - 3600, "Settlers", "exalted|chaos", {{"chaos", 60}, {"exalted", 4}});
  clock_.Set(t0_ + minutes(59));
  AddStash("a", "Settlers", {Item("x1", "~price 2 divine"), Item("x2", "~price 2 exalted")});
  AddStash("b", "Hardcore Settlers", {Item("x3", "~price 2 divine")});
  PoeTransforms t(pool_.get(), &clock_, 1000);
  ASSERT_TRUE(t.RunPass(10).ok());
  EXPECT_EQ(Col("SELECT price_in_chaos FROM poe_item_price_silver WHERE item_id = 'x1'"), "200");
  EXPECT_EQ(Col("SELECT price_in_chaos FROM poe_item_price_silver WHERE item_id = 'x2'"), "30");
  EXPECT_EQ(Col("SELECT price_in_chaos FROM poe_item_price_silver WHERE item_id = 'x3'"), "600");

  // A new rate for hour t0 (ended at t0+1h): items ingested after it use it.
  AddMarket(kH, "Settlers", "chaos|divine", {{"chaos", 2000}, {"divine", 10}});
  clock_.Set(t0_ + hours(1));
  AddStash("a", "Settlers", {Item("x1", "~price 2 divine")});
  ASSERT_TRUE(t.RunPass(10).ok());
  EXPECT_EQ(Col("SELECT price_in_chaos || ' ' || rate_hour FROM poe_item_price_silver "
                "WHERE item_id = 'x1'"),
            "400 " + std::to_string(kH));
}

TEST_F(PoeTransformsTest, HighWaterMarkWaitsForAWriterInFlight) {
  AddStash("s0", "Settlers", {Item("i0", "~price 1 chaos")});
  PoeTransforms t(pool_.get(), &clock_, 1000);
  ASSERT_TRUE(t.RunPass(10).ok());

  // A writer in the middle of its commit: checkpoint row locked, row inserted.
  pqxx::connection c(db_.dsn());
  pqxx::work w(c);
  w.exec("SELECT 1 FROM checkpoints WHERE stream = 'poe_stash:pc' FOR UPDATE");
  w.exec(
      "INSERT INTO poe_stash_raw (realm, league, ingest_date, change_id, stash_id, public, "
      "items, ingested_at) VALUES ('pc', 'Settlers', '2027-01-15', 'w-1', 'sw', true, "
      "'[{\"id\": \"iw\", \"note\": \"~price 2 chaos\"}]', now())");
  auto batch = std::async(std::launch::async, [&] { return t.RunStashBatch(); });
  EXPECT_EQ(batch.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "the transform must not read past a writer that has not committed";
  w.commit();
  auto r = batch.get();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->raw_rows, 1);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM poe_item_price_silver WHERE item_id = 'iw'"), 1);
}

}  // namespace
}  // namespace sluice::testing
