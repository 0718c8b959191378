// Price notes and tab names as the PoE stash stream carries them, and the
// chaos rate an exchange market gives.
#include "server/workflows/etl/price_parser.h"

#include <gtest/gtest.h>

#include "server/workflows/etl/exchange_rates.h"

namespace sluice::etl {
namespace {

struct Case {
  const char* text;
  bool priced;
  const char* kind;
  double amount;
  const char* currency;
};

TEST(PriceParserTest, ParsesNotesTable) {
  const Case cases[] = {
      {"~price 5 chaos", true, "price", 5, "chaos"},
      {"~b/o 1.5 divine", true, "b/o", 1.5, "divine"},
      {"~price 1/2 divine", true, "price", 0.5, "divine"},
      {"~b/o 3/4 exalted", true, "b/o", 0.75, "exalted"},
      {"  ~price   10   Chaos  ", true, "price", 10, "chaos"},
      {"~price 7 alch some words after", true, "price", 7, "alch"},
      {"~b/o .5 divine", true, "b/o", 0.5, "divine"},
      {"~c/o 5 chaos", false, "", 0, ""},  // current offer: not a price
      {"~price 0 chaos", false, "", 0, ""},
      {"~price 1/0 chaos", false, "", 0, ""},
      {"~price -3 chaos", false, "", 0, ""},
      {"~price five chaos", false, "", 0, ""},
      {"~price 5", false, "", 0, ""},
      {"~price 5 ???", false, "", 0, ""},
      {"~price 1.2.3 chaos", false, "", 0, ""},
      {"price 5 chaos", false, "", 0, ""},
      {"my stash", false, "", 0, ""},
      {"", false, "", 0, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto p = ParsePrice(c.text);
    ASSERT_EQ(p.has_value(), c.priced);
    if (!c.priced) continue;
    EXPECT_EQ(p->kind, c.kind);
    EXPECT_DOUBLE_EQ(p->amount, c.amount);
    EXPECT_EQ(p->currency, c.currency);
  }
}

TEST(PriceParserTest, ItemNoteWinsOverStashWidePrice) {
  auto own = ResolvePrice("~b/o 2 divine", "~price 10 chaos");
  ASSERT_TRUE(own.has_value());
  EXPECT_EQ(own->source, "item");
  EXPECT_EQ(own->price.currency, "divine");

  auto tab = ResolvePrice("", "~price 10 chaos");
  ASSERT_TRUE(tab.has_value());
  EXPECT_EQ(tab->source, "stash");
  EXPECT_DOUBLE_EQ(tab->price.amount, 10);

  // A note that is not a price leaves the tab's price in force.
  auto note = ResolvePrice("crafted by me", "~b/o 1/4 divine");
  ASSERT_TRUE(note.has_value());
  EXPECT_EQ(note->source, "stash");
  EXPECT_DOUBLE_EQ(note->price.amount, 0.25);

  EXPECT_FALSE(ResolvePrice("", "Dump tab").has_value());
}

TEST(ExchangeRatesTest, TradedAverageGivesChaosPerUnit) {
  auto r = RateFromMarket("chaos|divine", {{"chaos", 18000}, {"divine", 100}},
                          {{"chaos", 170}, {"divine", 1}}, {{"chaos", 190}, {"divine", 1}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->currency, "divine");
  EXPECT_DOUBLE_EQ(r->ratio_to_chaos, 180);
  EXPECT_DOUBLE_EQ(r->volume, 100);
  EXPECT_DOUBLE_EQ(r->chaos_volume, 18000);

  // Either order of the pair.
  auto rev =
      RateFromMarket("exalted|chaos", {{"chaos", "300"}, {"exalted", "20"}}, nullptr, nullptr);
  ASSERT_TRUE(rev.has_value());
  EXPECT_EQ(rev->currency, "exalted");
  EXPECT_DOUBLE_EQ(rev->ratio_to_chaos, 15);
}

TEST(ExchangeRatesTest, FallsBackToRatioMidpointWithoutVolume) {
  auto r = RateFromMarket("chaos|divine", {{"chaos", 0}, {"divine", 0}},
                          {{"chaos", 170}, {"divine", 1}}, {{"chaos", 190}, {"divine", 1}});
  ASSERT_TRUE(r.has_value());
  EXPECT_DOUBLE_EQ(r->ratio_to_chaos, 180);
  auto one = RateFromMarket("chaos|divine", nlohmann::json::object(), nullptr,
                            {{"chaos", 360}, {"divine", 2}});
  ASSERT_TRUE(one.has_value());
  EXPECT_DOUBLE_EQ(one->ratio_to_chaos, 180);
}

TEST(ExchangeRatesTest, NoRateWithoutChaosSideOrNumbers) {
  EXPECT_FALSE(RateFromMarket("divine|exalted", {{"divine", 1}, {"exalted", 5}}, nullptr, nullptr));
  EXPECT_FALSE(RateFromMarket("chaos|chaos", {{"chaos", 1}}, nullptr, nullptr));
  EXPECT_FALSE(RateFromMarket("chaosdivine", {{"chaos", 1}, {"divine", 1}}, nullptr, nullptr));
  EXPECT_FALSE(RateFromMarket("chaos|divine", {{"chaos", "x"}}, nullptr, nullptr));
}

}  // namespace
}  // namespace sluice::etl
