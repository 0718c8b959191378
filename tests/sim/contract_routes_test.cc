// The simulator's public contract and universe type routes: paging with
// X-Pages, ESI's JSON shapes, ETag/304 per page, churn over time, poison
// injection and failing types.
#include <set>

#include "sim/contract_routes.h"
#include "tests/sim/sim_test_util.h"

namespace sluice::sim::testing {
namespace {

using nlohmann::json;

class ContractRoutesTest : public SimTest {
 protected:
  void SetUp() override {
    StartSim(Unlimited());
    ASSERT_EQ(
        Post("/sim/contracts/config?per_region=250&page_size=100&regions=10000002,10000043", "")
            ->status,
        200);
  }

  std::vector<json> AllPages(int64_t region, int* pages_out = nullptr) {
    std::vector<json> out;
    int pages = 1;
    for (int page = 1; page <= pages; ++page) {
      auto r =
          Get("/contracts/public/" + std::to_string(region) + "/?page=" + std::to_string(page));
      EXPECT_TRUE(r && r->status == 200);
      if (!r) break;
      pages = std::stoi(r->get_header_value("X-Pages"));
      for (const json& c : json::parse(r->body)) out.push_back(c);
    }
    if (pages_out) *pages_out = pages;
    return out;
  }
};

TEST_F(ContractRoutesTest, PagesFollowXPagesAndListEveryContractOnce) {
  int pages = 0;
  std::vector<json> all = AllPages(10000002, &pages);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(all.size(), 250u);
  std::set<int64_t> ids;
  for (const json& c : all) ids.insert(c["contract_id"].get<int64_t>());
  EXPECT_EQ(ids.size(), 250u);
  // The other region lists different contracts.
  for (const json& c : AllPages(10000043))
    EXPECT_EQ(ids.count(c["contract_id"].get<int64_t>()), 0u);
  // Past the last page, and bad pages.
  EXPECT_EQ(Get("/contracts/public/10000002/?page=4")->status, 404);
  EXPECT_EQ(Get("/contracts/public/10000002/?page=0")->status, 400);
  EXPECT_EQ(Get("/contracts/public/abc/")->status, 400);
  // A region without contracts: an empty page.
  auto empty = Get("/contracts/public/10000001/");
  EXPECT_EQ(empty->status, 200);
  EXPECT_EQ(empty->body, "[]");
  EXPECT_EQ(empty->get_header_value("X-Pages"), "1");
  // The version prefix works too.
  EXPECT_EQ(Get("/latest/contracts/public/10000002/?page=2")->status, 200);
}

TEST_F(ContractRoutesTest, ContractsAndItemsHaveEsiShapes) {
  std::set<std::string> types;
  int with_items = 0;
  for (const json& c : AllPages(10000002)) {
    for (const char* f : {"contract_id", "issuer_id", "issuer_corporation_id"}) {
      ASSERT_TRUE(c[f].is_number_integer()) << f;
    }
    ASSERT_TRUE(c["date_issued"].is_string());
    ASSERT_TRUE(c["date_expired"].is_string());
    ASSERT_LT(c["date_issued"].get<std::string>(), c["date_expired"].get<std::string>());
    ASSERT_TRUE(c["for_corporation"].is_boolean());
    const std::string type = c["type"];
    types.insert(type);
    if (type == "courier") {
      EXPECT_TRUE(c["reward"].is_number());
      EXPECT_TRUE(c["collateral"].is_number());
      EXPECT_TRUE(c["days_to_complete"].is_number_integer());
    } else {
      EXPECT_TRUE(c["price"].is_number());
    }
    if (type == "auction") {
      EXPECT_TRUE(c["buyout"].is_number());
    }
    auto items =
        Get("/contracts/public/items/" + std::to_string(c["contract_id"].get<int64_t>()) + "/");
    ASSERT_TRUE(items);
    if (type == "courier") {
      EXPECT_EQ(items->status, 204);
      continue;
    }
    ASSERT_EQ(items->status, 200);
    ++with_items;
    json list = json::parse(items->body);
    ASSERT_FALSE(list.empty());
    for (const json& i : list) {
      for (const char* f : {"record_id", "type_id", "quantity"})
        ASSERT_TRUE(i[f].is_number_integer()) << f;
      ASSERT_TRUE(i["is_included"].is_boolean());
      ASSERT_TRUE(i["is_singleton"].is_boolean());
      // Every item's type is served.
      EXPECT_EQ(Get("/universe/types/" + std::to_string(i["type_id"].get<int64_t>()) + "/")->status,
                200);
    }
  }
  EXPECT_EQ(types, (std::set<std::string>{"item_exchange", "auction", "courier"}));
  EXPECT_GT(with_items, 100);
  // Unknown contract.
  EXPECT_EQ(Get("/contracts/public/items/12345/")->status, 404);
}

TEST_F(ContractRoutesTest, TypesCarryRealGroupIds) {
  const std::map<int64_t, int64_t> expected = {{587, 25},     {603, 25}, {24690, 419},
                                               {17738, 27},   {641, 27}, {11567, 30},
                                               {33468, 1283}, {670, 29}, {34, 18}};
  for (const auto& [type, group] : expected) {
    json t = GetJson("/universe/types/" + std::to_string(type) + "/");
    EXPECT_EQ(t["type_id"], type);
    EXPECT_EQ(t["group_id"], group) << type;
    EXPECT_TRUE(t["name"].is_string());
    EXPECT_TRUE(t["published"].is_boolean());
  }
  EXPECT_EQ(Get("/universe/types/1/")->status, 404);
}

TEST_F(ContractRoutesTest, PagesRevalidateWithEtagsUntilContractsChurn) {
  auto first = Get("/contracts/public/10000002/?page=2");
  const std::string etag = first->get_header_value("ETag");
  ASSERT_FALSE(etag.empty());
  auto again = Get("/contracts/public/10000002/?page=2", {{"If-None-Match", etag}});
  EXPECT_EQ(again->status, 304);
  EXPECT_EQ(again->get_header_value("X-Pages"), "3");

  std::set<int64_t> before;
  for (const json& c : AllPages(10000002)) before.insert(c["contract_id"].get<int64_t>());
  // One contract expires (and one appears) every lifetime / per_region.
  clock_.Advance(std::chrono::seconds(10 * 3 * 24 * 3600 / 250 + 1));
  std::set<int64_t> after;
  for (const json& c : AllPages(10000002)) after.insert(c["contract_id"].get<int64_t>());
  EXPECT_EQ(after.size(), 250u);
  int gone = 0;
  for (int64_t id : before) gone += after.count(id) == 0 ? 1 : 0;
  EXPECT_EQ(gone, 10);
  EXPECT_EQ(*after.begin(), *before.begin() + 10);
  EXPECT_EQ(Get("/contracts/public/10000002/?page=2", {{"If-None-Match", etag}})->status, 200);
  // An expired contract's items are gone.
  EXPECT_EQ(Get("/contracts/public/items/" + std::to_string(*before.begin()) + "/")->status, 404);
}

TEST_F(ContractRoutesTest, PoisonContractsAreListedOnTheLastPage) {
  auto malformed = Post("/sim/contracts/poison?region_id=10000002&mode=malformed", "");
  ASSERT_EQ(malformed->status, 200);
  const int64_t bad_id = json::parse(malformed->body)["contract_id"];
  auto db = Post("/sim/contracts/poison?region_id=10000002&mode=db", "");
  ASSERT_EQ(db->status, 200);
  const int64_t db_id = json::parse(db->body)["contract_id"];
  EXPECT_EQ(Post("/sim/contracts/poison?region_id=10000002&mode=other", "")->status, 400);
  EXPECT_EQ(Post("/sim/contracts/poison?region_id=10000099&mode=db", "")->status, 404);

  std::vector<json> all = AllPages(10000002);
  ASSERT_EQ(all.size(), 252u);
  bool saw_bad = false, saw_db = false;
  for (const json& c : all) {
    if (c["contract_id"] == bad_id) {
      saw_bad = true;
      EXPECT_TRUE(c["issuer_id"].is_string());  // not parseable as an id
    }
    if (c["contract_id"] == db_id) {
      saw_db = true;
      EXPECT_LT(c["date_expired"].get<std::string>(), c["date_issued"].get<std::string>());
    }
  }
  EXPECT_TRUE(saw_bad);
  EXPECT_TRUE(saw_db);
  EXPECT_EQ(StatsJson()["contracts"]["poisoned"], 2);
  ASSERT_EQ(Post("/sim/contracts/poison/clear", "")->status, 200);
  EXPECT_EQ(AllPages(10000002).size(), 250u);
}

TEST_F(ContractRoutesTest, TypesCanBeMadeToFail) {
  ASSERT_EQ(Post("/sim/types/fail?type_id=587&status=503", "")->status, 200);
  EXPECT_EQ(Get("/universe/types/587/")->status, 503);
  ASSERT_EQ(Post("/sim/types/fail?type_id=603&status=404", "")->status, 200);
  EXPECT_EQ(Get("/universe/types/603/")->status, 404);
  ASSERT_EQ(Post("/sim/types/fail?type_id=587&status=0", "")->status, 200);
  EXPECT_EQ(Get("/universe/types/587/")->status, 200);
  EXPECT_EQ(Post("/sim/types/fail?type_id=587&status=200", "")->status, 400);
  EXPECT_EQ(Post("/sim/contracts/config?page_size=0", "")->status, 400);
}

}  // namespace
}  // namespace sluice::sim::testing
