// Seed 004's ship-contract rule, as a table: one row per case, each saying
// what it checks.
#include "server/workflows/contracts/ship_classifier.h"

#include <gflags/gflags.h>
#include <gtest/gtest.h>

#include "absl/strings/str_join.h"

DECLARE_string(contract_ship_group_ids);

namespace sluice {
namespace {

constexpr int64_t kRifter = 587;      // group 25, Frigate
constexpr int64_t kDrake = 24690;     // group 419, Combat Battlecruiser
constexpr int64_t kCapsule = 670;     // group 29, Capsule: not in the ship list
constexpr int64_t kTritanium = 34;    // group 18, Mineral
constexpr int64_t kBlueprint = 691;   // group 105, Frigate Blueprint
constexpr int64_t kUnknown = 999999;  // not in the cache

const std::map<int64_t, int64_t> kGroups = {
    {kRifter, 25}, {kDrake, 419}, {kCapsule, 29}, {kTritanium, 18}, {kBlueprint, 105}};

ClassifierItem Item(int64_t type, int64_t quantity = 1, bool included = true,
                    bool singleton = true) {
  ClassifierItem i;
  i.type_id = type;
  i.quantity = quantity;
  i.is_included = included;
  i.is_singleton = singleton;
  return i;
}

struct Case {
  const char* what;
  std::string type;
  std::vector<ClassifierItem> items;
  bool decided;
  bool ship;
  int64_t ship_type;
  int64_t quantity;
  bool additional;
  std::vector<int64_t> missing;
};

TEST(ShipClassifierTest, FollowsTheSeedRuleTable) {
  ClassifierItem bpc_ship = Item(kRifter);
  bpc_ship.is_blueprint_copy = true;
  bpc_ship.runs = 10;
  bpc_ship.material_efficiency = 8;
  bpc_ship.time_efficiency = 16;
  const std::vector<Case> cases = {
      {"one assembled ship", "item_exchange", {Item(kRifter)}, true, true, kRifter, 1, false, {}},
      {"a packaged stack of one ship type is one ship item; quantity copied",
       "item_exchange",
       {Item(kDrake, 5, true, false)},
       true,
       true,
       kDrake,
       5,
       false,
       {}},
      {"ship with extra items: contains_additional_items",
       "item_exchange",
       {Item(kRifter), Item(kTritanium, 1000, true, false)},
       true,
       true,
       kRifter,
       1,
       true,
       {}},
      {"two ships: not a ship contract",
       "item_exchange",
       {Item(kRifter), Item(kDrake)},
       true,
       false,
       0,
       0,
       true,
       {}},
      {"no ship at all",
       "item_exchange",
       {Item(kTritanium, 10, true, false)},
       true,
       false,
       0,
       0,
       false,
       {}},
      {"a ship asked in return does not count",
       "item_exchange",
       {Item(kTritanium, 10, true, false), Item(kRifter, 1, false)},
       true,
       false,
       0,
       0,
       true,
       {}},
      {"one included ship plus one asked in return is a ship contract",
       "item_exchange",
       {Item(kRifter), Item(kDrake, 1, false)},
       true,
       true,
       kRifter,
       1,
       true,
       {}},
      {"a blueprint is not a ship",
       "item_exchange",
       {Item(kBlueprint)},
       true,
       false,
       0,
       0,
       false,
       {}},
      {"a capsule is not in the ship list",
       "item_exchange",
       {Item(kCapsule)},
       true,
       false,
       0,
       0,
       false,
       {}},
      {"auction with one ship: only item_exchange counts",
       "auction",
       {Item(kRifter)},
       true,
       false,
       0,
       0,
       false,
       {}},
      {"courier: no items", "courier", {}, true, false, 0, 0, false, {}},
      {"item_exchange without items", "item_exchange", {}, true, false, 0, 0, false, {}},
      {"unknown type: undecided, asks for it",
       "item_exchange",
       {Item(kUnknown)},
       false,
       false,
       0,
       0,
       false,
       {kUnknown}},
      {"one ship and an unknown type: undecided (the unknown may be a second ship)",
       "item_exchange",
       {Item(kRifter), Item(kUnknown)},
       false,
       false,
       0,
       0,
       true,
       {kUnknown}},
      {"two known ships settle it even with an unknown type",
       "item_exchange",
       {Item(kRifter), Item(kDrake), Item(kUnknown)},
       true,
       false,
       0,
       0,
       true,
       {}},
      {"an unknown type asked in return does not matter",
       "item_exchange",
       {Item(kRifter), Item(kUnknown, 1, false)},
       true,
       true,
       kRifter,
       1,
       true,
       {}},
  };
  const std::set<int64_t> ships(DefaultShipGroupIds().begin(), DefaultShipGroupIds().end());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    ShipClassification got = ClassifyContract(c.type, c.items, kGroups, ships);
    EXPECT_EQ(got.decided, c.decided);
    EXPECT_EQ(got.missing_types, c.missing);
    if (!c.decided) continue;
    EXPECT_EQ(got.is_ship_contract, c.ship);
    EXPECT_EQ(got.ship_type_id, c.ship_type);
    EXPECT_EQ(got.quantity, c.quantity);
    EXPECT_EQ(got.contains_additional_items, c.additional);
  }

  // The blueprint fields of the ship item are copied onto the contract.
  ShipClassification got = ClassifyContract("item_exchange", {bpc_ship}, kGroups, ships);
  ASSERT_TRUE(got.is_ship_contract);
  EXPECT_TRUE(got.is_blueprint_copy);
  EXPECT_EQ(got.runs, 10);
  EXPECT_EQ(got.material_efficiency, 8);
  EXPECT_EQ(got.time_efficiency, 16);
}

TEST(ShipClassifierTest, ConfiguredGroupsDecide) {
  // With only battlecruisers configured, a frigate is no ship.
  ShipClassification got = ClassifyContract("item_exchange", {Item(kRifter)}, kGroups, {419});
  EXPECT_TRUE(got.decided);
  EXPECT_FALSE(got.is_ship_contract);
  got = ClassifyContract("item_exchange", {Item(kDrake)}, kGroups, {419});
  EXPECT_TRUE(got.is_ship_contract);
}

TEST(ShipClassifierTest, FlagDefaultIsTheDefaultGroupList) {
  EXPECT_EQ(FLAGS_contract_ship_group_ids, absl::StrJoin(DefaultShipGroupIds(), ","));
}

}  // namespace
}  // namespace sluice
