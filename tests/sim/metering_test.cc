// Per-caller metering, as ESI and PoE bill: ESI buckets per (group,
// character or source address), the error limit per address, PoE rules per
// their scope; the mutually exclusive header sets; the killmail groups;
// violations and requests by caller; /sim/buckets; the OpenAPI document; and
// the --metering=global switch back to shared budgets (scale:
// metering_scale_test.cc). Different source addresses are real: libcurl binds its client
// sockets to 127.0.0.2, 127.0.0.3, ... (all of 127.0.0.0/8 is local on Linux).
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "sim/esi_meter.h"
#include "sim/poe_limits.h"
#include "sim_test_util.h"

namespace sluice::sim {
namespace {

using std::chrono::seconds;

struct CurlReply {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  bool has(const std::string& name) const { return headers.count(name) > 0; }
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

size_t CollectBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t CollectHeader(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    value.erase(value.find_last_not_of("\r\n ") + 1);
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

class SimMeteringTest : public testing::SimTest {
 protected:
  // A GET from `source` (e.g. "127.0.0.2") to the simulator.
  CurlReply GetFrom(const std::string& source, const std::string& path,
                    const std::string& token = "") {
    CurlReply r;
    CURL* curl = curl_easy_init();
    EXPECT_NE(curl, nullptr);
    if (curl == nullptr) return r;
    const std::string url = "http://127.0.0.1:" + std::to_string(sim_->port()) + path;
    const std::string interface = "host!" + source;
    curl_slist* headers = nullptr;
    const std::string auth = "Authorization: Bearer " + token;
    if (!token.empty()) headers = curl_slist_append(headers, auth.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_INTERFACE, interface.c_str());
    curl_easy_setopt(curl, CURLOPT_USERAGENT, testing::kUserAgent);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, CollectBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, CollectHeader);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r.headers);
    CURLcode rc = curl_easy_perform(curl);
    EXPECT_EQ(rc, CURLE_OK) << source << " " << path << ": " << curl_easy_strerror(rc);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return r;
  }

  // Access tokens of the first `n` killmail characters: {character_id, token}.
  std::vector<std::pair<int64_t, std::string>> Tokens(int n) {
    auto r = Post("/sim/tokens?count=" + std::to_string(n), "");
    EXPECT_TRUE(r && r->status == 200);
    std::vector<std::pair<int64_t, std::string>> out;
    for (const auto& t : nlohmann::json::parse(r->body)) {
      out.emplace_back(t["character_id"].get<int64_t>(), t["access_token"].get<std::string>());
    }
    return out;
  }

  static std::string RecentPath(int64_t character) {
    return "/characters/" + std::to_string(character) + "/killmails/recent/";
  }

  nlohmann::json Buckets(const std::string& caller) {
    return GetJson("/sim/buckets?caller=" + caller);
  }

  // The requests_by_caller entry of `caller`, or 0.
  int64_t RequestsOf(const nlohmann::json& stats, const std::string& caller) {
    for (const auto& row : stats["requests_by_caller"]["top"]) {
      if (row["caller"] == caller) return row["requests"].get<int64_t>();
    }
    return 0;
  }
};

TEST_F(SimMeteringTest, EachCharacterGetsTheWholeGroup) {
  SimConfig c = Unlimited();
  c.esi_groups = {{"char-killmail", 6, 900}};
  StartSim(c);
  auto tokens = Tokens(2);
  for (const auto& [character, token] : tokens) {
    for (int i = 0; i < 3; ++i) {
      auto r = Get(RecentPath(character), {{"Authorization", "Bearer " + token}});
      ASSERT_EQ(r->status, 200) << character << " #" << i << ": " << r->body;
      EXPECT_EQ(r->get_header_value("X-Ratelimit-Group"), "char-killmail");
      EXPECT_EQ(r->get_header_value("X-Ratelimit-Remaining"), std::to_string(4 - 2 * i));
    }
    auto limited = Get(RecentPath(character), {{"Authorization", "Bearer " + token}});
    EXPECT_EQ(limited->status, 429);
    EXPECT_EQ(limited->get_header_value("Retry-After"), "900");
  }
  const std::string first = EsiMeter::CharacterCaller(tokens[0].first);
  const std::string second = EsiMeter::CharacterCaller(tokens[1].first);
  nlohmann::json stats = StatsJson();
  EXPECT_EQ(stats["violations"]["esi_group"], 2);
  EXPECT_EQ(stats["violations"]["by_caller"][first], 1);
  EXPECT_EQ(stats["violations"]["by_caller"][second], 1);
  EXPECT_EQ(stats["violations"]["by_caller"].size(), 2u);
  EXPECT_EQ(stats["esi"]["groups"]["char-killmail"]["callers"], 2);
  EXPECT_EQ(stats["esi"]["groups"]["char-killmail"]["most_used"][0]["used"], 6);
  EXPECT_EQ(RequestsOf(stats, first), 4);
  EXPECT_EQ(RequestsOf(stats, second), 4);

  nlohmann::json b = Buckets(first);
  EXPECT_EQ(b["groups"]["char-killmail"]["remaining"], 0);
  EXPECT_EQ(b["groups"]["char-killmail"]["used"], 6);
  EXPECT_FALSE(b.contains("error_limit")) << "a character has no error limit of its own";
  // The address itself spent nothing from the group.
  EXPECT_EQ(Buckets("ip:127.0.0.1")["groups"]["char-killmail"]["remaining"], 6);
}

TEST_F(SimMeteringTest, StaticAuthTokenBelongsToItsCharacter) {
  SimConfig c = Unlimited();
  c.esi_groups = {{"corporation", 100, 60}};
  c.auth_token_character_id = 90000042;
  StartSim(c);
  const int64_t corp = GetJson("/sim/universe")["corporations"]["first"].get<int64_t>();
  auto ok = Get("/corporations/" + std::to_string(corp) + "/members/",
                {{"Authorization", "Bearer " + c.auth_token}});
  ASSERT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(Buckets("char:90000042")["groups"]["corporation"]["used"], 2);
  EXPECT_EQ(Buckets("ip:127.0.0.1")["groups"]["corporation"]["used"], 0);
  // An unknown token authenticates nobody: the address pays (401 costs 5).
  auto bogus = Get("/corporations/" + std::to_string(corp) + "/members/",
                   {{"Authorization", "Bearer not-a-token"}});
  ASSERT_EQ(bogus->status, 401);
  EXPECT_EQ(Buckets("ip:127.0.0.1")["groups"]["corporation"]["used"], 5);
  EXPECT_EQ(Buckets("char:90000042")["groups"]["corporation"]["used"], 2);
}

TEST_F(SimMeteringTest, EachSourceAddressGetsTheWholeGroup) {
  SimConfig c = Unlimited();
  c.esi_groups = {{"alliance", 4, 60}};
  StartSim(c);
  for (const char* source : {"127.0.0.2", "127.0.0.3"}) {
    for (int i = 0; i < 2; ++i) {
      CurlReply r = GetFrom(source, "/alliances/");
      ASSERT_EQ(r.status, 200) << source;
      EXPECT_EQ(r.header("x-ratelimit-remaining"), std::to_string(2 - 2 * i)) << source;
    }
    CurlReply limited = GetFrom(source, "/alliances/");
    EXPECT_EQ(limited.status, 429) << source;
    EXPECT_EQ(limited.header("retry-after"), "60");
  }
  ASSERT_EQ(GetFrom("127.0.0.4", "/alliances/").status, 200);

  nlohmann::json stats = StatsJson();
  EXPECT_EQ(stats["requests_by_caller"]["callers"], 3);
  EXPECT_EQ(RequestsOf(stats, "ip:127.0.0.2"), 3);
  EXPECT_EQ(RequestsOf(stats, "ip:127.0.0.3"), 3);
  EXPECT_EQ(RequestsOf(stats, "ip:127.0.0.4"), 1);
  EXPECT_EQ(stats["violations"]["by_caller"],
            nlohmann::json({{"ip:127.0.0.2", 1}, {"ip:127.0.0.3", 1}}));
  const nlohmann::json& group = stats["esi"]["groups"]["alliance"];
  EXPECT_EQ(group["limit"], "4/1m");
  EXPECT_EQ(group["callers"], 3);
  ASSERT_EQ(group["most_used"].size(), 3u);
  EXPECT_EQ(group["most_used"][0]["caller"], "ip:127.0.0.2");  // ties sort by name
  EXPECT_EQ(group["most_used"][2]["caller"], "ip:127.0.0.4");
  EXPECT_EQ(group["most_used"][2]["remaining"], 2);
}

TEST_F(SimMeteringTest, ErrorLimitIsPerAddress) {
  SimConfig c = Unlimited();
  c.esi_error_limit = 3;
  StartSim(c);
  for (int i = 0; i < 3; ++i) {
    CurlReply r = GetFrom("127.0.0.2", "/characters/1/");
    ASSERT_EQ(r.status, 404);
    EXPECT_EQ(r.header("x-esi-error-limit-remain"), std::to_string(2 - i));
  }
  for (const char* path : {"/alliances/", "/characters/1/"}) {
    CurlReply r = GetFrom("127.0.0.2", path);
    EXPECT_EQ(r.status, 420) << path;
    EXPECT_EQ(r.header("x-esi-error-limit-remain"), "0");
  }
  CurlReply other = GetFrom("127.0.0.3", "/alliances/");
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.header("x-esi-error-limit-remain"), "3");

  nlohmann::json stats = StatsJson();
  EXPECT_EQ(stats["violations"]["esi_error_limit"], 2);
  EXPECT_EQ(stats["violations"]["by_caller"], nlohmann::json({{"ip:127.0.0.2", 2}}));
  const nlohmann::json& e = stats["esi"]["error_limit"];
  EXPECT_EQ(e["budget"], 3);
  EXPECT_EQ(e["window_seconds"], 60);
  EXPECT_EQ(e["addresses"], 1);  // 127.0.0.3 has made no error
  EXPECT_EQ(e["limited_addresses"], 1);
  EXPECT_EQ(e["least_remaining"][0]["address"], "ip:127.0.0.2");
  EXPECT_EQ(Buckets("ip:127.0.0.2")["error_limit"]["limited"], true);
  EXPECT_EQ(Buckets("ip:127.0.0.3")["error_limit"]["remain"], 3);

  clock_.Advance(seconds(60));
  EXPECT_EQ(GetFrom("127.0.0.2", "/alliances/").status, 200);
}

TEST_F(SimMeteringTest, GroupAndErrorLimitHeadersAreMutuallyExclusive) {
  SimConfig c = Unlimited();
  c.esi_groups = {{"alliance", 4, 60}};
  StartSim(c);
  auto grouped = Get("/alliances/");
  ASSERT_EQ(grouped->status, 200);
  EXPECT_TRUE(grouped->has_header("X-Ratelimit-Group"));
  EXPECT_FALSE(grouped->has_header("X-ESI-Error-Limit-Remain"));
  EXPECT_FALSE(grouped->has_header("X-ESI-Error-Limit-Reset"));
  ASSERT_EQ(Get("/alliances/")->status, 200);
  auto limited = Get("/alliances/");
  ASSERT_EQ(limited->status, 429);
  EXPECT_FALSE(limited->has_header("X-ESI-Error-Limit-Remain"));

  auto ungrouped = Get("/characters/1/");
  ASSERT_EQ(ungrouped->status, 404);
  EXPECT_FALSE(ungrouped->has_header("X-Ratelimit-Group"));
  // The 429 above counted as an error too, on the address's one error limit.
  EXPECT_EQ(ungrouped->get_header_value("X-ESI-Error-Limit-Remain"), "98");
}

TEST_F(SimMeteringTest, KillmailGroupsByDefault) {
  SimConfig c = Unlimited();
  c.esi_groups = SimConfig().esi_groups;
  StartSim(c);
  auto [character, token] = Tokens(1)[0];
  auto recent = Get(RecentPath(character), {{"Authorization", "Bearer " + token}});
  ASSERT_EQ(recent->status, 200) << recent->body;
  EXPECT_EQ(recent->get_header_value("X-Ratelimit-Group"), "char-killmail");
  EXPECT_EQ(recent->get_header_value("X-Ratelimit-Limit"), "30/15m");
  EXPECT_EQ(recent->get_header_value("X-Ratelimit-Remaining"), "28");
  EXPECT_FALSE(recent->has_header("X-ESI-Error-Limit-Remain"));

  auto refs = nlohmann::json::parse(recent->body);
  ASSERT_FALSE(refs.empty());
  const std::string body_path = "/killmails/" +
                                std::to_string(refs[0]["killmail_id"].get<int64_t>()) + "/" +
                                refs[0]["killmail_hash"].get<std::string>() + "/";
  auto body = Get(body_path);
  ASSERT_EQ(body->status, 200);
  // ESI's killmail group, billed to the address (a public route).
  EXPECT_EQ(body->get_header_value("X-Ratelimit-Group"), "killmail");
  EXPECT_EQ(body->get_header_value("X-Ratelimit-Limit"), "3600/15m");
  EXPECT_FALSE(body->has_header("X-ESI-Error-Limit-Remain"));
  // The recent list did not use the character group (or any other).
  EXPECT_EQ(Buckets("char:" + std::to_string(character))["groups"]["character"]["used"], 0);
}

TEST_F(SimMeteringTest, KillmailBodiesOutsideAnyGroupWhenTheirGroupIsNotConfigured) {
  SimConfig c = Unlimited();
  c.esi_groups = {{"char-killmail", 30, 900}};  // no "killmail" group
  StartSim(c);
  auto [character, token] = Tokens(1)[0];
  auto refs = nlohmann::json::parse(
      Get(RecentPath(character), {{"Authorization", "Bearer " + token}})->body);
  ASSERT_FALSE(refs.empty());
  auto body = Get("/killmails/" + std::to_string(refs[0]["killmail_id"].get<int64_t>()) + "/" +
                  refs[0]["killmail_hash"].get<std::string>() + "/");
  ASSERT_EQ(body->status, 200);
  EXPECT_FALSE(body->has_header("X-Ratelimit-Group"));
  EXPECT_EQ(body->get_header_value("X-ESI-Error-Limit-Remain"), "100");
}

TEST_F(SimMeteringTest, PoeAccountRuleIsPerToken) {
  SimConfig c = Unlimited();
  c.poe_stash_rules = *ParsePoeRules("Account=2:10:60;Ip=100:10:60");
  StartSim(c);
  auto stash = [&](const std::string& token) {
    httplib::Headers h;
    if (!token.empty()) h.emplace("Authorization", "Bearer " + token);
    return Get("/public-stash-tabs", h);
  };
  for (int i = 1; i <= 2; ++i) {
    auto r = stash("token-a");
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("X-Rate-Limit-Rules"), "Account,Ip");
    EXPECT_EQ(r->get_header_value("X-Rate-Limit-Account-State"), std::to_string(i) + ":10:0");
    EXPECT_EQ(r->get_header_value("X-Rate-Limit-Ip-State"), std::to_string(i) + ":10:0");
  }
  auto refused = stash("token-a");
  ASSERT_EQ(refused->status, 429);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "60");
  EXPECT_EQ(refused->get_header_value("X-Rate-Limit-Account-State"), "2:10:60");

  // Another account from the same address has its own Account state; the Ip
  // rule is shared by both.
  auto other = stash("token-b");
  ASSERT_EQ(other->status, 200);
  EXPECT_EQ(other->get_header_value("X-Rate-Limit-Account-State"), "1:10:0");
  EXPECT_EQ(other->get_header_value("X-Rate-Limit-Ip-State"), "3:10:0");
  auto anonymous = stash("");
  ASSERT_EQ(anonymous->status, 200);
  EXPECT_EQ(anonymous->get_header_value("X-Rate-Limit-Account-State"), "1:10:0");

  nlohmann::json stats = StatsJson();
  EXPECT_EQ(stats["violations"]["poe_rule"], 1);
  EXPECT_EQ(stats["violations"]["by_caller"], nlohmann::json({{"account:token-a", 1}}));
  const nlohmann::json& account = stats["poe"]["public-stash-request-limit"]["rules"]["Account"];
  EXPECT_EQ(account["scope"], "Account");
  EXPECT_EQ(account["keys"], 3);
  EXPECT_EQ(account["clients"]["token-a"], "2:10:60");
  EXPECT_EQ(account["clients"][kPoeAnonymous], "1:10:0");
  EXPECT_EQ(RequestsOf(stats, "ip:127.0.0.1"), 5);
}

TEST(SimPoeScopeTest, ClientAndUnknownRulesAreShared) {
  FakeClock clock(FromUnixSeconds(1767225600));
  PoeLimiter l("p", *ParsePoeRules("Client=2:10:60;Special=3:10:60"), &clock);
  EXPECT_STREQ(PoeLimiter::ScopeOf("Client"), "Client");
  EXPECT_STREQ(PoeLimiter::ScopeOf("Special"), "global");
  EXPECT_EQ(l.Decide({"10.0.0.1", "a"}).outcome, PoeLimiter::Outcome::kAllowed);
  EXPECT_EQ(l.Decide({"10.0.0.2", "b"}).outcome, PoeLimiter::Outcome::kAllowed);
  PoeLimiter::Decision d = l.Decide({"10.0.0.3", "c"});
  EXPECT_EQ(d.outcome, PoeLimiter::Outcome::kRuleExceeded);
  EXPECT_EQ(d.refused_key, std::string("client:") + kPoeClientKey);
}

TEST(SimEsiMeterTest, GlobalMeteringIsOneBucket) {
  FakeClock clock(FromUnixSeconds(1767225600));
  SimConfig c;
  c.metering = Metering::kGlobal;
  EsiMeter meter(c, &clock);
  EXPECT_EQ(meter.Group("alliance", "char:1"), meter.Group("alliance", "ip:127.0.0.2"));
  EXPECT_EQ(meter.Errors("ip:127.0.0.2"), meter.Errors("ip:127.0.0.3"));
  EXPECT_EQ(meter.Group("no-such-group", "char:1"), nullptr);
}

TEST_F(SimMeteringTest, GlobalMeteringSharesEveryBudget) {
  SimConfig c = Unlimited();
  c.metering = Metering::kGlobal;
  c.esi_groups = {{"alliance", 4, 60}};
  c.esi_error_limit = 2;
  c.poe_stash_rules = *ParsePoeRules("Account=1:10:60");
  StartSim(c);
  // One bucket for everybody: what 127.0.0.2 spends, 127.0.0.3 lacks.
  ASSERT_EQ(GetFrom("127.0.0.2", "/alliances/").status, 200);
  CurlReply shared = GetFrom("127.0.0.3", "/alliances/");
  ASSERT_EQ(shared.status, 200);
  EXPECT_EQ(shared.header("x-ratelimit-remaining"), "0");
  // Both header sets on a grouped route, as before per-caller metering.
  EXPECT_EQ(shared.header("x-esi-error-limit-remain"), "2");
  EXPECT_EQ(GetFrom("127.0.0.2", "/alliances/").status, 429);

  // One error limit for everybody (the 429 above counted once).
  ASSERT_EQ(GetFrom("127.0.0.3", "/characters/1/").status, 404);
  EXPECT_EQ(GetFrom("127.0.0.2", "/characters/1/").status, 420);

  // PoE rules, whatever their name, per address: two tokens share one.
  ASSERT_EQ(GetFrom("127.0.0.2", "/public-stash-tabs", "token-a").status, 200);
  EXPECT_EQ(GetFrom("127.0.0.2", "/public-stash-tabs", "token-b").status, 429);
  EXPECT_EQ(GetFrom("127.0.0.3", "/public-stash-tabs", "token-a").status, 200);

  nlohmann::json stats = StatsJson();
  EXPECT_EQ(stats["metering"], "global");
  EXPECT_EQ(stats["esi"]["groups"]["alliance"]["callers"], 1);
  EXPECT_EQ(stats["esi"]["groups"]["alliance"]["most_used"][0]["caller"], "global");
  EXPECT_EQ(stats["esi"]["error_limit"]["least_remaining"][0]["address"], "global");
  EXPECT_EQ(stats["poe"]["public-stash-request-limit"]["rules"]["Account"]["scope"], "Ip");
  // Callers are still told apart in the counters.
  // One 429, one 420 and one PoE refusal, all sent from 127.0.0.2.
  EXPECT_EQ(stats["violations"]["total"], 3);
  EXPECT_EQ(stats["violations"]["by_caller"], nlohmann::json({{"ip:127.0.0.2", 3}}));
  EXPECT_EQ(stats["requests_by_caller"]["callers"], 2);
  EXPECT_EQ(Buckets("char:1")["groups"]["alliance"]["used"], 4);
}

TEST_F(SimMeteringTest, BucketsRejectsUnknownCallerForms) {
  StartSim(Unlimited());
  EXPECT_EQ(Get("/sim/buckets")->status, 400);
  EXPECT_EQ(Get("/sim/buckets?caller=someone")->status, 400);
  nlohmann::json b = Buckets("ip:10.9.8.7");
  EXPECT_EQ(b["metering"], "per_caller");
  EXPECT_TRUE(b["groups"].empty());
  EXPECT_EQ(b["error_limit"]["remain"], 100);
}

TEST_F(SimMeteringTest, OpenApiDocumentCarriesRateLimits) {
  SimConfig c;  // the default groups
  c.threads = 4;
  StartSim(c);
  nlohmann::json doc = GetJson("/meta/openapi.json");
  ASSERT_TRUE(doc["paths"].is_object());
  EXPECT_EQ(doc["paths"].size(), 11u);  // 6 core + 2 killmail + 3 contract/type routes
  const nlohmann::json& recent = doc["paths"]["/characters/{character_id}/killmails/recent"]["get"];
  EXPECT_EQ(
      recent["x-rate-limit"],
      nlohmann::json({{"group", "char-killmail"}, {"window-size", "15m"}, {"max-tokens", 30}}));
  EXPECT_EQ(recent["security"][0]["OAuth2"][0], "esi-killmails.read_killmails.v1");
  const nlohmann::json& body = doc["paths"]["/killmails/{killmail_id}/{killmail_hash}"]["get"];
  EXPECT_EQ(body["x-rate-limit"],
            nlohmann::json({{"group", "killmail"}, {"window-size", "15m"}, {"max-tokens", 3600}}));
  EXPECT_FALSE(body.contains("security"));
  EXPECT_EQ(body["parameters"].size(), 2u);
  EXPECT_EQ(doc["paths"]["/alliances"]["get"]["x-rate-limit"],
            nlohmann::json({{"group", "alliance"}, {"window-size", "1m"}, {"max-tokens", 600}}));
  EXPECT_EQ(doc["paths"]["/universe/types/{type_id}"]["get"]["x-rate-limit"]["group"], "universe");
  EXPECT_TRUE(doc["paths"]["/corporations/{corporation_id}/members"]["get"].contains("security"));
  // Not upstream traffic.
  EXPECT_EQ(StatsJson()["requests_total"], 0);
}

}  // namespace
}  // namespace sluice::sim
