// ESI paths, bodies, errors, authentication and caching, over real HTTP.
#include <gtest/gtest.h>

#include "sim/http_util.h"
#include "sim_test_util.h"

namespace sluice::sim {
namespace {

class SimEsiRoutesTest : public testing::SimTest {
 protected:
  void SetUp() override { StartSim(Unlimited()); }

  int64_t FirstAlliance() { return GetJson("/alliances/")[0]; }
  int64_t FirstCorporation() {
    return GetJson("/alliances/" + std::to_string(FirstAlliance()) + "/corporations/")[0];
  }
};

TEST_F(SimEsiRoutesTest, ETagAndNotModified) {
  std::string path = "/alliances/" + std::to_string(FirstAlliance()) + "/";
  auto first = Get(path);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);
  std::string etag = first->get_header_value("ETag");
  ASSERT_GE(etag.size(), 3u);
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(etag.back(), '"');
  EXPECT_EQ(etag, ETagOf(first->body));
  EXPECT_EQ(first->get_header_value("Expires"),
            HttpDate(clock_.Now() + std::chrono::seconds(3600)));
  EXPECT_EQ(first->get_header_value("Last-Modified"), HttpDate(clock_.Now()));
  EXPECT_EQ(first->get_header_value("Date"), HttpDate(clock_.Now()));

  auto again = Get(path, {{"If-None-Match", etag}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
  EXPECT_EQ(again->get_header_value("ETag"), etag);
  EXPECT_FALSE(again->get_header_value("Expires").empty());

  auto stale = Get(path, {{"If-None-Match", "\"0000\""}});
  EXPECT_EQ(stale->status, 200);
}

TEST_F(SimEsiRoutesTest, MutateChangesETag) {
  int64_t corp = FirstCorporation();
  std::string path = "/corporations/" + std::to_string(corp) + "/";
  auto before = Get(path);
  ASSERT_EQ(before->status, 200);
  clock_.Advance(std::chrono::minutes(5));
  auto m = Post("/sim/mutate", nlohmann::json{{"kind", "corporation"}, {"id", corp}}.dump());
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200) << m->body;
  auto after = Get(path, {{"If-None-Match", before->get_header_value("ETag")}});
  ASSERT_EQ(after->status, 200);
  EXPECT_NE(after->get_header_value("ETag"), before->get_header_value("ETag"));
  EXPECT_EQ(after->get_header_value("Last-Modified"), HttpDate(clock_.Now()));
  EXPECT_EQ(nlohmann::json::parse(after->body)["member_count"],
            nlohmann::json::parse(before->body)["member_count"]);
}

TEST_F(SimEsiRoutesTest, MutateRejectsBadInput) {
  EXPECT_EQ(Post("/sim/mutate", "not json")->status, 400);
  EXPECT_EQ(Post("/sim/mutate", R"({"kind":"planet","id":1})")->status, 400);
  EXPECT_EQ(Post("/sim/mutate", R"({"kind":"alliance","id":"x"})")->status, 400);
  EXPECT_EQ(Post("/sim/mutate", R"({"kind":"alliance","id":1})")->status, 404);
}

TEST_F(SimEsiRoutesTest, UnknownIdsAre404) {
  int64_t a = FirstAlliance();
  auto r = Get("/alliances/" + std::to_string(a + 1) + "/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(nlohmann::json::parse(r->body)["error"], "Alliance not found");
  EXPECT_EQ(Get("/corporations/98000001/")->status, 404);
  EXPECT_EQ(Get("/characters/2112000001/")->status, 404);
  EXPECT_EQ(Get("/alliances/" + std::to_string(a + 1) + "/corporations/")->status, 404);
}

TEST_F(SimEsiRoutesTest, MalformedIdsAre400) {
  for (const char* p : {"/alliances/abc/", "/corporations/-5/", "/characters/99999999999/",
                        "/alliances/1.5/corporations/"}) {
    auto r = Get(p);
    ASSERT_TRUE(r) << p;
    EXPECT_EQ(r->status, 400) << p;
    EXPECT_TRUE(nlohmann::json::parse(r->body).contains("error")) << p;
  }
}

TEST_F(SimEsiRoutesTest, UnknownRoutesAre404) {
  for (const char* p : {"/", "/universe/types/", "/alliances/1/icons/", "/sim/nope"}) {
    auto r = Get(p);
    ASSERT_TRUE(r) << p;
    EXPECT_EQ(r->status, 404) << p;
  }
  EXPECT_EQ(Post("/alliances/", "{}")->status, 405);
}

TEST_F(SimEsiRoutesTest, AcceptsVersionPrefixes) {
  std::string plain = Get("/alliances/")->body;
  EXPECT_EQ(Get("/latest/alliances/")->body, plain);
  EXPECT_EQ(Get("/v1/alliances/")->body, plain);
  EXPECT_EQ(Get("/alliances")->body, plain);
}

TEST_F(SimEsiRoutesTest, MembersRequireTheToken) {
  int64_t corp = FirstCorporation();
  std::string path = "/corporations/" + std::to_string(corp) + "/members/";
  auto anonymous = Get(path);
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(nlohmann::json::parse(anonymous->body)["error"], "authentication failure");
  EXPECT_EQ(Get(path, {{"Authorization", "Bearer wrong"}})->status, 401);
  // 401 counts against the error limit, as on ESI.
  EXPECT_EQ(anonymous->get_header_value("X-ESI-Error-Limit-Remain"), "99");

  auto ok = Get(path, {{"Authorization", "Bearer sim-token"}});
  ASSERT_EQ(ok->status, 200);
  nlohmann::json members = nlohmann::json::parse(ok->body);
  nlohmann::json corp_json = GetJson("/corporations/" + std::to_string(corp) + "/");
  EXPECT_EQ(members.size(), corp_json["member_count"].get<size_t>());
}

}  // namespace
}  // namespace sluice::sim
