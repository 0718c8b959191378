// The stash fold without a database: silver rows and priced items from raw
// versions, listed_at carried across versions and batches, league null,
// moved items, bad items, and the leagues whose summaries change.
#include "server/workflows/etl/stash_transform.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sluice::etl {
namespace {

using Json = nlohmann::json;

Json Item(const std::string& id, const std::string& note = "") {
  Json j = {{"id", id}, {"typeLine", "Chaos Orb"}, {"baseType", "Chaos Orb"}, {"name", ""}};
  if (!note.empty()) j["note"] = note;
  return j;
}

StashRawRow Version(int64_t raw_id, const std::string& stash_id, const std::string& league,
                    const std::vector<Json>& items, const std::string& stash_name = "tab",
                    const std::string& ingested_at = "2027-01-15 08:00:00+00") {
  StashRawRow r;
  r.raw_id = raw_id;
  r.realm = "pc";
  r.league = league;
  r.stash_id = stash_id;
  r.change_id = "c" + std::to_string(raw_id);
  r.account_name = "acct";
  r.stash_name = stash_name;
  r.stash_type = "PremiumStash";
  r.is_public = true;
  r.items = Json(items).dump();
  r.ingested_at = ingested_at;
  return r;
}

const ItemPriceRow* FindItem(const StashFold& fold, const std::string& id) {
  for (const ItemPriceRow& i : fold.items) {
    if (i.item_id == id) return &i;
  }
  return nullptr;
}

// The silver state a fold leaves behind, as the next batch would read it.
std::map<StashKey, StashSilverState> SilverOf(const StashFold& fold) {
  std::map<StashKey, StashSilverState> out;
  for (const StashSilverRow& s : fold.stashes) out[{s.realm, s.stash_id}].league = s.league;
  for (const ItemPriceRow& i : fold.items) {
    out[{i.realm, i.stash_id}].items[i.item_id] =
        ListedItem{Price{i.price_kind, i.price_amount, i.price_currency}, i.listed_at};
  }
  return out;
}

TEST(StashFoldTest, NewStashesGiveSilverRowsAndPricedItems) {
  Json stacked = Item("i5");
  stacked["stackSize"] = 7;
  const StashFold fold = FoldStashes(
      {Version(1, "s1", "Settlers",
               {Item("i1", "~price 5 chaos"), Item("i2", "~b/o 1/2 divine"), Item("i3")}),
       Version(2, "s2", "Standard", {stacked}, "~price 10 chaos")},
      {});
  ASSERT_EQ(fold.stashes.size(), 2u);
  const StashSilverRow& s1 = fold.stashes[0];
  EXPECT_EQ(s1.stash_id, "s1");
  EXPECT_EQ(s1.league, "Settlers");
  EXPECT_EQ(s1.item_count, 3) << "every item, priced or not";
  EXPECT_EQ(s1.priced_items, 2);
  ASSERT_EQ(fold.items.size(), 3u);
  const ItemPriceRow* i2 = FindItem(fold, "i2");
  ASSERT_NE(i2, nullptr);
  EXPECT_EQ(i2->price_kind, "b/o");
  EXPECT_DOUBLE_EQ(i2->price_amount, 0.5);
  EXPECT_EQ(i2->price_currency, "divine");
  EXPECT_EQ(i2->price_source, "item");
  EXPECT_EQ(FindItem(fold, "i3"), nullptr) << "no note, and the tab is not priced";
  const ItemPriceRow* i5 = FindItem(fold, "i5");
  ASSERT_NE(i5, nullptr);
  EXPECT_EQ(i5->price_source, "stash");
  EXPECT_EQ(i5->league, "Standard");
  EXPECT_EQ(i5->stack_size, 7);
  EXPECT_FALSE(FindItem(fold, "i1")->stack_size.has_value());
  EXPECT_EQ(i5->listed_at, "2027-01-15 08:00:00+00");
  EXPECT_EQ(i5->updated_at, "2027-01-15 08:00:00+00");
  EXPECT_EQ(i5->raw_id, 2);
  EXPECT_EQ(fold.leagues, (std::vector<std::pair<std::string, std::string>>{{"pc", "Settlers"},
                                                                            {"pc", "Standard"}}));
  EXPECT_EQ(fold.bad_items, 0);
}

TEST(StashFoldTest, ListedAtKeptWhilePriceUnchangedAcrossVersionsAndBatches) {
  const std::string t1 = "2027-01-15 08:00:00+00", t2 = "2027-01-15 08:10:00+00",
                    t3 = "2027-01-15 08:20:00+00";
  const std::vector<StashRawRow> versions = {
      Version(1, "s1", "Settlers", {Item("a", "~price 5 chaos"), Item("b", "~price 1 chaos")},
              "tab", t1),
      Version(2, "s1", "Settlers", {Item("a", "~price 5 chaos"), Item("b", "~price 2 chaos")},
              "tab", t2),
      Version(3, "s1", "Settlers", {Item("a", "~price 5 chaos"), Item("b", "~price 2 chaos")},
              "tab", t3)};
  const StashFold whole = FoldStashes(versions, {});
  EXPECT_EQ(FindItem(whole, "a")->listed_at, t1);
  EXPECT_EQ(FindItem(whole, "b")->listed_at, t2) << "repriced at t2";
  EXPECT_EQ(FindItem(whole, "b")->updated_at, t3);

  // The same versions one batch each give the same rows.
  StashFold step = FoldStashes({versions[0]}, {});
  step = FoldStashes({versions[1]}, SilverOf(step));
  step = FoldStashes({versions[2]}, SilverOf(step));
  ASSERT_EQ(step.items.size(), whole.items.size());
  for (const ItemPriceRow& i : whole.items) {
    const ItemPriceRow* s = FindItem(step, i.item_id);
    ASSERT_NE(s, nullptr) << i.item_id;
    EXPECT_EQ(s->listed_at, i.listed_at) << i.item_id;
    EXPECT_EQ(s->raw_id, i.raw_id) << i.item_id;
  }
}

TEST(StashFoldTest, LeagueNullKeepsTheLeagueAndALeagueChangeTouchesBoth) {
  std::map<StashKey, StashSilverState> prior;
  prior[{"pc", "s1"}].league = "Settlers";
  prior[{"pc", "s1"}].items["a"] = ListedItem{Price{"price", 5, "chaos"}, "earlier"};
  prior[{"pc", "s2"}].league = "Settlers";
  StashRawRow hidden = Version(7, "s1", "", {});
  hidden.is_public = false;
  hidden.account_name.reset();
  hidden.stash_name.reset();
  const StashFold fold =
      FoldStashes({hidden, Version(8, "s2", "Standard", {Item("x", "~price 1 chaos")})}, prior);
  ASSERT_EQ(fold.stashes.size(), 2u);
  EXPECT_EQ(fold.stashes[0].league, "Settlers") << "league null keeps the stash's league";
  EXPECT_FALSE(fold.stashes[0].is_public);
  EXPECT_EQ(fold.stashes[0].item_count, 0);
  EXPECT_FALSE(fold.stashes[0].account_name.has_value());
  EXPECT_FALSE(fold.stashes[0].stash_name.has_value());
  EXPECT_EQ(fold.stashes[0].stash_type, "PremiumStash");
  EXPECT_EQ(fold.stashes[1].league, "Standard");
  EXPECT_EQ(fold.leagues, (std::vector<std::pair<std::string, std::string>>{{"pc", "Settlers"},
                                                                            {"pc", "Standard"}}))
      << "s2 left Settlers: both summaries change";

  // A stash whose league PoE never named is in no summary.
  EXPECT_TRUE(FoldStashes({Version(9, "s9", "", {})}, {}).leagues.empty());
}

TEST(StashFoldTest, AMovedItemBelongsToTheLaterVersion) {
  const StashFold fold = FoldStashes({Version(1, "s1", "Settlers", {Item("m", "~price 3 chaos")}),
                                      Version(2, "s2", "Settlers", {Item("m", "~price 4 chaos")})},
                                     {});
  ASSERT_EQ(fold.items.size(), 1u);
  EXPECT_EQ(fold.items[0].stash_id, "s2");
  EXPECT_DOUBLE_EQ(fold.items[0].price_amount, 4);
  EXPECT_EQ(fold.stashes[0].priced_items, 0);
  EXPECT_EQ(fold.stashes[1].priced_items, 1);
}

TEST(StashFoldTest, BadItemsAreSkippedAndCountedAndBadArraysWarned) {
  StashRawRow broken = Version(2, "s2", "Settlers", {});
  broken.items = R"({"not": "an array"})";
  const StashFold fold =
      FoldStashes({Version(1, "s1", "Settlers",
                           {Item("", "~price 1 chaos"), Json(5), Item("d", "~price 1 chaos"),
                            Item("d", "~price 2 chaos"), Item("u"), Item("u")}),
                   broken},
                  {});
  EXPECT_EQ(fold.bad_items, 3) << "no id, not an object, a repeated priced id";
  ASSERT_EQ(fold.items.size(), 1u);
  EXPECT_DOUBLE_EQ(fold.items[0].price_amount, 1) << "the first of a repeated id wins";
  EXPECT_EQ(fold.stashes[0].item_count, 6);
  EXPECT_EQ(fold.stashes[1].item_count, 0);
  ASSERT_EQ(fold.warnings.size(), 1u);
  EXPECT_NE(fold.warnings[0].find("raw stash 2 (s2)"), std::string::npos) << fold.warnings[0];
}

TEST(StashFoldTest, TouchedStashesInFirstSeenOrder) {
  EXPECT_EQ(TouchedStashes(
                {Version(1, "b", "L", {}), Version(2, "a", "L", {}), Version(3, "b", "L", {})}),
            (std::vector<StashKey>{{"pc", "b"}, {"pc", "a"}}));
}

}  // namespace
}  // namespace sluice::etl
