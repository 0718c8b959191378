// The currency fold without a database: which markets give a rate, one row
// per (realm, league, currency, hour), the later raw row winning.
#include "server/workflows/etl/currency_transform.h"

#include <gtest/gtest.h>

namespace sluice::etl {
namespace {

ExchangeRawRow Market(int64_t raw_id, const std::string& league, const std::string& market,
                      const std::string& volume, int64_t hour = 3600,
                      const std::string& realm = "pc") {
  ExchangeRawRow r;
  r.raw_id = raw_id;
  r.realm = realm;
  r.hour = hour;
  r.league = league;
  r.market_id = market;
  r.volume_traded = volume;
  return r;
}

TEST(CurrencyFoldTest, RatesOfChaosMarketsEitherSideOrderedByKey) {
  std::vector<ExchangeRawRow> rows = {
      Market(1, "Settlers", "divine|chaos", R"({"chaos": 3000, "divine": 10})"),
      Market(2, "Settlers", "divine|exalted", R"({"divine": 1, "exalted": 5})"),
      Market(3, "Hardcore", "chaos|exalted", R"({"chaos": 60, "exalted": 4})"),
  };
  const std::vector<CurrencySnapshotRow> out = FoldCurrency(rows);
  ASSERT_EQ(out.size(), 2u) << "divine|exalted has no chaos side";
  EXPECT_EQ(out[0].league, "Hardcore");
  EXPECT_EQ(out[0].currency, "exalted");
  EXPECT_DOUBLE_EQ(out[0].ratio_to_chaos, 15);
  EXPECT_DOUBLE_EQ(out[0].volume, 4);
  EXPECT_DOUBLE_EQ(out[0].chaos_volume, 60);
  EXPECT_EQ(out[0].raw_id, 3);
  EXPECT_EQ(out[1].league, "Settlers");
  EXPECT_EQ(out[1].currency, "divine");
  EXPECT_DOUBLE_EQ(out[1].ratio_to_chaos, 300);
  EXPECT_EQ(out[1].market_id, "divine|chaos");
  EXPECT_EQ(out[1].hour, 3600);
  EXPECT_EQ(out[1].realm, "pc");
}

TEST(CurrencyFoldTest, LaterRawRowOfTheSameKeyWins) {
  std::vector<ExchangeRawRow> rows = {
      Market(1, "Settlers", "chaos|divine", R"({"chaos": 1000, "divine": 10})"),
      Market(2, "Settlers", "chaos|divine", R"({"chaos": 1000, "divine": 10})", 7200),
      Market(3, "Settlers", "divine|chaos", R"({"chaos": 1200, "divine": 10})"),
      Market(4, "Settlers", "chaos|divine", R"({"chaos": 900, "divine": 10})", 3600, "xbox"),
  };
  const std::vector<CurrencySnapshotRow> out = FoldCurrency(rows);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].hour, 3600);
  EXPECT_DOUBLE_EQ(out[0].ratio_to_chaos, 120);
  EXPECT_EQ(out[0].raw_id, 3);
  EXPECT_EQ(out[1].hour, 7200);
  EXPECT_EQ(out[2].realm, "xbox");
  EXPECT_DOUBLE_EQ(out[2].ratio_to_chaos, 90);
}

TEST(CurrencyFoldTest, NoTradesFallBackToRatiosAndNoNumbersGiveNoRow) {
  ExchangeRawRow ratios = Market(1, "Settlers", "chaos|divine", R"({})");
  ratios.lowest_ratio = R"({"chaos": 100, "divine": 1})";
  ratios.highest_ratio = R"({"chaos": 140, "divine": 1})";
  ExchangeRawRow nothing = Market(2, "Settlers", "chaos|exalted", "null");
  ExchangeRawRow broken = Market(3, "Settlers", "chaos|mirror", "{not json");
  const std::vector<CurrencySnapshotRow> out = FoldCurrency({ratios, nothing, broken});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].currency, "divine");
  EXPECT_DOUBLE_EQ(out[0].ratio_to_chaos, 120);
  EXPECT_DOUBLE_EQ(out[0].volume, 0);
  EXPECT_TRUE(FoldCurrency({}).empty());
}

}  // namespace
}  // namespace sluice::etl
