// End to end, with real sluice-agent processes over loopback: budgets
// belong to whom the upstream bills. The simulator meters per caller, as ESI
// does: each (group, character) and each (group, source address) has its own
// bucket, the error limit is per address.
//
//   * three agents bound to 127.0.0.2/.3/.4 sync a public route at about
//     three times one address's budget;
//   * 300 characters' killmail lists are read in about the time one
//     character's needs, and a character whose bucket someone else spent
//     does not stop the others;
//   * a workload on an exhausted budget does not slow one on a budget with
//     room (tasks whose budget has no room are deferred, workers move on);
//   * a 420 on one address stops that address only.
// Zero violations throughout, except the calls that discover a budget spent
// behind Sluice's back (the test spends it itself), which are counted.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/time_util.h"
#include "server/coordinator.h"
#include "sim/simulator.h"
#include "sluice/v1/killmails.grpc.pb.h"
#include "tests/support/child_process.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// GET from a given source address, as another process on that host would.
int CurlFrom(const std::string& bind, const std::string& url, const std::string& bearer = "") {
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_INTERFACE, ("host!" + bind).c_str());
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "budget-scope-test (other process)");
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION,
      +[](char*, size_t size, size_t n, void*) -> size_t { return size * n; });
  curl_slist* headers = nullptr;
  if (!bearer.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + bearer).c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  }
  long status = 0;
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return static_cast<int>(status);
}

class BudgetScopeE2eTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& a : agents_) {
      a->Signal(SIGTERM);
      a->Wait(seconds(20));
    }
    agents_.clear();
    if (coordinator_) coordinator_->Shutdown(milliseconds(500));
    if (sim_) sim_->Stop();
  }

  void StartSim(sim::SimConfig sc) {
    setenv("SIM_KILLMAIL_GROWTH_PERIOD_S", "0", 1);
    sc.threads = 24;
    sim_ = std::make_unique<sim::Simulator>(sc);
    auto port = sim_->Start(0);
    ASSERT_TRUE(port.ok()) << port.status();
  }

  // With `seed_routes`, the coordinator reads the simulator's OpenAPI
  // document (as an operator would save ESI's) and knows each route's group
  // before the first call.
  void StartCoordinator(bool seed_routes = false) {
    CoordinatorOptions co;
    co.listen = "127.0.0.1:0";
    co.dsn = db_.dsn();
    co.db_pool_size = 8;
    co.scheduler.enabled = false;
    // Character tokens are stored sealed: the coordinator needs a key.
    SecretBox::Key key;
    key.fill(0x5e);
    co.workflows.killmails.token_box = std::make_shared<const SecretBox>(key, std::nullopt);
    if (seed_routes) {
      httplib::Client client("127.0.0.1", sim_->port());
      auto spec = client.Get("/meta/openapi.json", httplib::Headers{{"User-Agent", "operator"}});
      ASSERT_TRUE(spec && spec->status == 200);
      co.esi_openapi_file = absl::StrCat(::testing::TempDir(), "esi-openapi-", getpid(), ".json");
      std::ofstream(co.esi_openapi_file) << spec->body;
    }
    coordinator_ = std::make_unique<Coordinator>(co);
    ASSERT_TRUE(coordinator_->Start().ok());
  }

  void StartAgent(const std::string& bind, int workers = 4) {
    const std::string id = absl::StrCat("agent-", agents_.size(), "-", bind);
    agents_.push_back(std::make_unique<ChildProcess>(
        std::vector<std::string>{SLUICE_AGENT_BINARY, "--agent_id=" + id,
                                 absl::StrCat("--coordinator=127.0.0.1:", coordinator_->port()),
                                 "--upstream_esi=" + sim_->base_url(), "--bind_address=" + bind,
                                 absl::StrCat("--workers=", workers), "--lease_wait_ms=200",
                                 "--contact=e2e@sluice.invalid"},
        std::vector<std::string>{"GLOG_v=1"},  // deferrals in the log
        absl::StrCat(::testing::TempDir(), "budget-scope-", getpid(), "-", id, ".log")));
    ASSERT_GT(agents_.back()->pid(), 0);
  }

  std::string Budgets() {
    std::string out;
    for (const auto& b : coordinator_->throttler()->ListBudgets()) {
      absl::StrAppend(&out, b.name, " remaining ", b.window.remaining, "/", b.window.limit,
                      " in flight ", b.outstanding_calls, " calls ", b.outstanding_units,
                      " units, observed ", b.observed, "\n");
    }
    return out;
  }

  std::string Logs() {
    std::string out = Budgets();
    for (auto& a : agents_) out += a->Log().substr(0, 4000);
    return out;
  }

  void Enqueue(const std::string& kind, const std::vector<int64_t>& ids,
               Priority priority = Priority::kManual) {
    auto r = coordinator_->queue()->Enqueue(kind, ids, priority);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  int64_t Violations() { return sim_->Stats()["violations"]["total"].get<int64_t>(); }
  nlohmann::json ViolationsByCaller() { return sim_->Stats()["violations"]["by_caller"]; }

  int64_t RequestsFrom(const std::string& caller) {
    const nlohmann::json stats = sim_->Stats();
    for (const auto& c : stats["requests_by_caller"]["top"]) {
      if (c["caller"] == caller) return c["requests"].get<int64_t>();
    }
    return 0;
  }

  TestDatabase db_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<Coordinator> coordinator_;
  std::vector<std::unique_ptr<ChildProcess>> agents_;
};

TEST_F(BudgetScopeE2eTest, ThreeAddressesSyncAPublicRouteAtThreeTimesOneAddressBudget) {
  sim::SimConfig sc;
  sc.universe.alliances = 120;
  sc.universe.corporations = 120;
  sc.universe.characters = 120;
  // 40 tokens per 10 s per address: 20 alliance calls (2 tokens each) per
  // window from one address. The other groups do not bind.
  sc.esi_groups = {{"alliance", 40, 10}, {"corporation", 1000000, 60}, {"character", 1000000, 60}};
  StartSim(sc);
  StartCoordinator();
  Enqueue("alliance", sim_->universe()->AllianceIds());
  const auto started = std::chrono::steady_clock::now();
  for (const char* bind : {"127.0.0.2", "127.0.0.3", "127.0.0.4"}) StartAgent(bind);
  ASSERT_TRUE(WaitUntil([&] { return db_.Count("SELECT count(*) FROM alliance_static") == 120; },
                        seconds(60)))
      << db_.Count("SELECT count(*) FROM alliance_static") << " alliances\n"
      << Logs();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // 120 calls at 20 per window per address: one address needs six windows
  // (50 s and more), three need two (the second opening at 10 s).
  RecordProperty("elapsed_seconds", std::to_string(elapsed));
  EXPECT_GT(elapsed, 9.0) << "the budget did not bind: is the simulator metering per address?";
  EXPECT_LT(elapsed, 25.0) << "three addresses did not triple the rate";
  for (const char* caller : {"ip:127.0.0.2", "ip:127.0.0.3", "ip:127.0.0.4"}) {
    EXPECT_GE(RequestsFrom(caller), 30)
        << caller << " " << sim_->Stats()["requests_by_caller"].dump();
  }
  EXPECT_EQ(Violations(), 0) << ViolationsByCaller();
}

TEST_F(BudgetScopeE2eTest, ManyCharactersKillmailListsTakeAboutWhatOneNeeds) {
  sim::SimConfig sc;
  sc.universe.alliances = 10;
  sc.universe.corporations = 60;
  sc.universe.characters = 300;
  // ESI's own char-killmail group: 30 tokens / 15 min per character. Pooled,
  // 300 characters' first pages alone would take five hours.
  sc.esi_groups = {{"alliance", 1000000, 60},
                   {"corporation", 1000000, 60},
                   {"character", 1000000, 60},
                   {"char-killmail", 30, 900}};
  StartSim(sc);
  StartCoordinator();
  auto stub = v1::KillmailAdminService::NewStub(grpc::CreateChannel(
      absl::StrCat("127.0.0.1:", coordinator_->port()), grpc::InsecureChannelCredentials()));
  httplib::Client sim_client("127.0.0.1", sim_->port());
  auto issued = sim_client.Post("/sim/tokens?count=300", httplib::Headers{{"User-Agent", "t"}}, "",
                                "application/json");
  ASSERT_TRUE(issued && issued->status == 200);
  std::vector<int64_t> characters;
  std::string spent_token;
  for (const auto& t : nlohmann::json::parse(issued->body)) {
    const int64_t id = t["character_id"].get<int64_t>();
    characters.push_back(id);
    v1::RegisterCharacterTokenRequest req;
    req.set_character_id(id);
    req.set_access_token(t["access_token"].get<std::string>());
    *req.mutable_expires_at() = ToProto(std::chrono::system_clock::now() + std::chrono::hours(1));
    v1::RegisterCharacterTokenResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->RegisterCharacterToken(&ctx, req, &resp).ok());
    if (spent_token.empty()) spent_token = t["access_token"].get<std::string>();
  }
  // Another application of the same character spends its bucket first.
  const int64_t spent = characters.front();
  const std::string recent =
      absl::StrCat(sim_->base_url(), "/characters/", spent, "/killmails/recent/");
  int refused = 0;
  for (int i = 0; i < 20 && refused == 0; ++i) {
    refused = CurlFrom("127.0.0.9", recent, spent_token) == 429 ? 1 : 0;
  }
  ASSERT_EQ(refused, 1) << "the character's bucket should be spent";
  sim_->ResetStats();

  Enqueue("character_killmails", characters);
  const auto started = std::chrono::steady_clock::now();
  StartAgent("127.0.0.2");
  StartAgent("127.0.0.3");
  const std::string synced =
      "SELECT count(*) FROM character_tokens WHERE last_killmail_sync_at IS NOT NULL";
  ASSERT_TRUE(WaitUntil([&] { return db_.Count(synced) >= 299; }, seconds(90)))
      << db_.Count(synced) << " characters synced\n"
      << Logs();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  RecordProperty("elapsed_seconds", std::to_string(elapsed));
  // One character's list is up to three pages: well under a second. 299
  // characters, with the bodies they name queued beside them, in seconds.
  EXPECT_LT(elapsed, 60.0);
  EXPECT_EQ(db_.Count(synced + " AND character_id = " + std::to_string(spent)), 0)
      << "the spent character waits for its own bucket";
  // The one call that found the spent bucket, and nothing else.
  const nlohmann::json by_caller = ViolationsByCaller();
  EXPECT_LE(Violations(), 1) << by_caller;
  for (const auto& [caller, n] : by_caller.items()) {
    EXPECT_EQ(caller, absl::StrCat("char:", spent)) << by_caller;
  }
  EXPECT_EQ(db_.Count("SELECT count(*) FROM dead_tasks"), 0);
}

TEST_F(BudgetScopeE2eTest, AnExhaustedBudgetDoesNotSlowWorkOnAnother) {
  sim::SimConfig sc;
  sc.universe.alliances = 10;
  sc.universe.corporations = 100;
  sc.universe.characters = 200;
  // Characters: 20 tokens per 30 s for the one address, so 200 character
  // calls need five minutes. Corporations: no limit to speak of.
  sc.esi_groups = {{"alliance", 1000000, 60}, {"corporation", 1000000, 60}, {"character", 20, 30}};
  StartSim(sc);
  // A route whose group is unknown could be in the spent one: it may not be
  // probed until that has room. Knowing the routes (ESI publishes them) is
  // what lets the corporations go ahead.
  StartCoordinator(/*seed_routes=*/true);
  std::vector<int64_t> characters, corporations;
  for (int64_t a : sim_->universe()->AllianceIds()) {
    const std::vector<int64_t> corps = sim_->universe()->AllianceCorporations(a).value();
    for (int64_t c : corps) {
      corporations.push_back(c);
      const std::vector<int64_t> members = sim_->universe()->CorporationMembers(c).value();
      characters.insert(characters.end(), members.begin(), members.end());
    }
  }
  // The characters are the most urgent work; the corporations wait behind them.
  Enqueue("character", characters, Priority::kUser);
  Enqueue("corporation", corporations, Priority::kBackground);
  const auto started = std::chrono::steady_clock::now();
  StartAgent("127.0.0.2", 8);
  ASSERT_TRUE(WaitUntil([&] { return db_.Count("SELECT count(*) FROM corporation_static") == 100; },
                        seconds(40)))
      << db_.Count("SELECT count(*) FROM corporation_static") << " corporations\n"
      << Logs();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  RecordProperty("elapsed_seconds", std::to_string(elapsed));
  EXPECT_LT(elapsed, 30.0) << "corporations waited on the characters' budget";
  EXPECT_LT(db_.Count("SELECT count(*) FROM character_static"), 60)
      << "the character budget should still bind";
  EXPECT_EQ(Violations(), 0) << ViolationsByCaller();
}

TEST_F(BudgetScopeE2eTest, A420OnOneAddressStopsThatAddressOnly) {
  sim::SimConfig sc;
  sc.universe.alliances = 80;
  sc.universe.corporations = 80;
  sc.universe.characters = 80;
  sc.esi_error_limit = 10;
  sc.esi_error_window_seconds = 30;
  sc.esi_groups = {
      {"alliance", 1000000, 60}, {"corporation", 1000000, 60}, {"character", 1000000, 60}};
  StartSim(sc);
  StartCoordinator();
  // Another process on 127.0.0.2 spends that address's error limit.
  const std::string missing = sim_->base_url() + "/no/such/route/";
  int answered_420 = 0;
  for (int i = 0; i < 12 && answered_420 == 0; ++i) {
    answered_420 = CurlFrom("127.0.0.2", missing) == 420 ? 1 : 0;
  }
  ASSERT_EQ(answered_420, 1);
  sim_->ResetStats();

  Enqueue("alliance", sim_->universe()->AllianceIds());
  StartAgent("127.0.0.2", 2);
  StartAgent("127.0.0.3", 2);
  ASSERT_TRUE(WaitUntil([&] { return db_.Count("SELECT count(*) FROM alliance_static") == 80; },
                        seconds(25)))
      << db_.Count("SELECT count(*) FROM alliance_static") << " alliances\n"
      << Logs();
  EXPECT_GE(RequestsFrom("ip:127.0.0.3"), 70) << "the other address did the work";
  // Only the calls already on their way when the first 420 came back.
  const nlohmann::json by_caller = ViolationsByCaller();
  EXPECT_LE(Violations(), 2) << by_caller;
  EXPECT_FALSE(by_caller.contains("ip:127.0.0.3")) << by_caller;
}

}  // namespace
}  // namespace sluice::testing
