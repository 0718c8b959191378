// The PoE streams end to end: a coordinator with the stream module on, the
// upstream simulator (PoE routes, limits off) and agents over real gRPC and
// HTTP. The stash stream is ingested to its head and follows it as it grows;
// the exchange stream catches up hour by hour and audits missing hours; every
// request carries the agent's User-Agent. A real sluice-agent process killed
// (SIGKILL) while it holds a page leaves no gap and no duplicate once a second
// agent takes the stream over. The simulator demands GGG's OAuth service
// token, as GGG does: the coordinator fetches it from the simulator's token
// endpoint (client credentials) and refreshes it; agents send it with GGG's
// User-Agent.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "agent/agent_builder.h"
#include "agent/handlers/poe_request_headers.h"
#include "agent/http/curl_client.h"
#include "server/coordinator.h"
#include "server/oauth/service_token.h"
#include "sim/poe_routes.h"
#include "sim/simulator.h"
#include "tests/support/child_process.h"
#include "tests/support/test_database.h"

extern char** environ;

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int kStashesPerPage = 8;

bool WaitFor(const std::function<bool()>& done, Duration timeout = seconds(60)) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < give_up) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return done();
}

class StreamE2eTest : public ::testing::Test {
 protected:
  // The simulator's clock drives how far the stream has grown; now-ish, so
  // the coordinator's real clock and the exchange hours agree.
  StreamE2eTest() : sim_clock_(SystemClock::Get()->Now()) {}

  void StartAll(int64_t backlog_pages, bool in_process_agent, int poe_token_lifetime_s = 0) {
    sim::PoeStreamConfig stream;
    stream.backlog_pages = backlog_pages;
    stream.pages_per_second = 1;  // grows only when the test advances sim_clock_
    stream.stashes_per_page = kStashesPerPage;
    const int64_t now_s = static_cast<int64_t>(ToUnixSeconds(sim_clock_.Now()));
    exchange_start_ = now_s / 3600 * 3600 - 5 * 3600;
    stream.missing_hours = {exchange_start_ + 3600};
    stream.skipped_hours = {exchange_start_ + 3 * 3600};
    sim::PoeRoutes::SetStreamConfig(stream);
    expected_ = std::make_unique<sim::PoeRoutes>(&sim_clock_, stream);

    sim::SimConfig sc;
    sc.threads = 8;
    sc.poe_stash_rules.clear();  // limits off: the throttler's own budget governs
    sc.poe_exchange_rules.clear();
    sc.poe_require_token = true;
    // A short lifetime needs a clock that moves for the simulator to see
    // tokens expire: the wall clock, then.
    if (poe_token_lifetime_s > 0) sc.poe_token_lifetime_s = poe_token_lifetime_s;
    sim_ = std::make_unique<sim::Simulator>(
        sc, poe_token_lifetime_s > 0 ? static_cast<const Clock*>(SystemClock::Get()) : &sim_clock_);
    ASSERT_TRUE(sim_->Start(0).ok());

    CoordinatorOptions co;
    co.listen = "127.0.0.1:0";
    co.dsn = db_.dsn();
    co.db_pool_size = 6;
    co.scheduler.enabled = false;
    co.throttle.poe_default = {100000, seconds(1)};
    co.workflows.streams.enabled = true;
    co.workflows.streams.realms = {"pc"};
    co.workflows.streams.stash_poll = seconds(1);
    co.workflows.streams.exchange_poll = seconds(1);
    co.workflows.streams.exchange_start_hour = exchange_start_;
    oauth::TokenEndpointConfig poe;
    poe.token_url = sim_->base_url() + "/oauth/token";
    poe.client_id = "sim-poe-client";
    poe.client_secret = "sim-poe-secret";
    poe.auth = oauth::ClientAuth::kFormBody;
    auto client = oauth::TokenEndpointClient::Create(poe);
    ASSERT_TRUE(client.ok()) << client.status();
    co.workflows.streams.poe_token = std::make_shared<oauth::ServiceTokenSource>(
        std::shared_ptr<const oauth::TokenEndpointClient>(std::move(*client)), PoeStreamScopes(),
        SystemClock::Get());
    poe_token_ = co.workflows.streams.poe_token;
    coordinator_ = std::make_unique<Coordinator>(co);
    ASSERT_TRUE(coordinator_->Start().ok());
    if (in_process_agent) StartInProcessAgent("stream-agent-0");
  }

  void StartInProcessAgent(const std::string& id) {
    agent::AgentConfig ac;
    ac.coordinator = Address();
    ac.agent.agent_id = id;
    ac.agent.workers = 2;
    ac.agent.lease_duration = seconds(3);
    ac.agent.lease_wait = milliseconds(200);
    ac.handlers.poe_base_url = sim_->base_url();
    ac.contact = "streams@sluice.invalid";
    auto built = agent::BuildAgent(ac);
    ASSERT_TRUE(built.ok()) << built.status();
    agents_.push_back(std::move(*built));
    ASSERT_TRUE(agents_.back()->Start().ok());
  }

  void TearDown() override {
    for (auto& a : agents_) a->Stop();
    if (coordinator_) coordinator_->Shutdown(milliseconds(500));
    if (sim_) sim_->Stop();
  }

  std::string Address() const { return "127.0.0.1:" + std::to_string(coordinator_->port()); }
  std::string Cursor(const std::string& stream) {
    return db_.Query("SELECT cursor FROM checkpoints WHERE stream = '" + stream + "'");
  }

  // Every stash of pages [0, pages) exactly once, under its page's cursor.
  void ExpectExactlyPages(int64_t pages) {
    EXPECT_EQ(db_.Count("SELECT count(*) FROM poe_stash_raw"), pages * kStashesPerPage);
    EXPECT_EQ(db_.Count("SELECT count(*) FROM (SELECT DISTINCT league, stash_id, change_id "
                        "FROM poe_stash_raw) d"),
              pages * kStashesPerPage)
        << "no duplicates";
    EXPECT_EQ(db_.Count("SELECT count(DISTINCT change_id) FROM poe_stash_raw"), pages)
        << "no gap: every page is there";
    // Spot-check the last page against the simulator's own content.
    const std::string last_cursor = pages == 1 ? "" : sim::PoeRoutes::ChangeIdOf(pages - 1);
    nlohmann::json stashes = expected_->StashesOf("", pages - 1);
    EXPECT_EQ(db_.Query("SELECT string_agg(stash_id, ',' ORDER BY stash_id) FROM poe_stash_raw "
                        "WHERE change_id = '" +
                        last_cursor + "'"),
              [&] {
                std::vector<std::string> ids;
                for (const auto& s : stashes) ids.push_back(s["id"]);
                std::sort(ids.begin(), ids.end());
                std::string out;
                for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
                return out;
              }());
    // The accepted transitions form one unbroken chain.
    EXPECT_EQ(db_.Count("SELECT count(*) FROM checkpoint_transitions t WHERE accepted AND "
                        "stream = 'poe_stash:pc' AND from_cursor <> '' AND NOT EXISTS ("
                        "SELECT 1 FROM checkpoint_transitions p WHERE p.accepted AND "
                        "p.stream = t.stream AND p.to_cursor = t.from_cursor)"),
              0);
  }

  TestDatabase db_;
  FakeClock sim_clock_;
  int64_t exchange_start_ = 0;
  std::unique_ptr<sim::PoeRoutes> expected_;
  std::unique_ptr<sim::Simulator> sim_;
  std::shared_ptr<oauth::ServiceTokenSource> poe_token_;
  std::unique_ptr<Coordinator> coordinator_;
  std::vector<std::unique_ptr<agent::Agent>> agents_;
};

TEST_F(StreamE2eTest, IngestsToTheHeadFollowsGrowthAndAuditsExchangeHours) {
  StartAll(/*backlog_pages=*/12, /*in_process_agent=*/true);
  const std::string head = sim::PoeRoutes::ChangeIdOf(12);
  ASSERT_TRUE(WaitFor([&] {
    return Cursor("poe_stash:pc") == head &&
           db_.Query("SELECT head_at IS NOT NULL FROM checkpoints WHERE stream = 'poe_stash:pc'") ==
               "t";
  })) << Cursor("poe_stash:pc");
  ExpectExactlyPages(12);

  // The stream grows: five more pages, then the head again.
  sim_clock_.Advance(seconds(5));
  ASSERT_TRUE(WaitFor([&] { return Cursor("poe_stash:pc") == sim::PoeRoutes::ChangeIdOf(17); }))
      << Cursor("poe_stash:pc");
  ExpectExactlyPages(17);

  // Exchange: five ended hours; hour 1 served empty, hour 3 skipped over.
  const std::string current_hour = std::to_string(exchange_start_ + 5 * 3600);
  ASSERT_TRUE(WaitFor([&] { return Cursor("poe_exchange:pc") == current_hour; }))
      << Cursor("poe_exchange:pc");
  EXPECT_EQ(db_.Query("SELECT string_agg(((hour - " + std::to_string(exchange_start_) +
                      ") / 3600)::text, ',' ORDER BY hour) FROM poe_exchange_gaps"),
            "1,3");
  EXPECT_EQ(db_.Count("SELECT count(DISTINCT hour) FROM poe_exchange_raw"), 3);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM poe_exchange_raw"),
            3 * static_cast<int64_t>(expected_->MarketsOf("", exchange_start_).size()));

  // Compliance: every PoE request carried GGG's OAuth User-Agent (the
  // coordinator's client id, the agent's contact) and a valid service token.
  nlohmann::json stats = sim_->Stats();
  EXPECT_EQ(stats["requests_without_user_agent"].get<int64_t>(), 0);
  const std::string ua = agent::PoeUserAgent("sim-poe-client", "streams@sluice.invalid");
  ASSERT_TRUE(stats["user_agents"].contains(ua)) << stats["user_agents"].dump();
  EXPECT_EQ(stats["user_agents"][ua].get<int64_t>(), stats["requests_total"].get<int64_t>());
  EXPECT_EQ(stats["user_agent_format"].value("poe.does_not", 0), 0);
  EXPECT_EQ(stats["oauth"]["rejected"]["poe"].dump(),
            R"({"expired":0,"invalid":0,"missing":0,"scope":0})");
  EXPECT_EQ(db_.Count("SELECT count(*) FROM dead_tasks"), 0);
}

TEST_F(StreamE2eTest, StreamsIngestWithAServiceTokenTheCoordinatorRefreshes) {
  // Tokens live 4 s: refreshed a second before they expire (a quarter of
  // their lifetime), so over 13 s at least three more are fetched, and GGG
  // never sees an expired one.
  StartAll(/*backlog_pages=*/3, /*in_process_agent=*/true, /*poe_token_lifetime_s=*/4);
  const auto start = std::chrono::steady_clock::now();
  int64_t pages_seen = 0;
  while (std::chrono::steady_clock::now() - start < seconds(13)) {
    std::this_thread::sleep_for(seconds(1));
    pages_seen = db_.Count("SELECT COALESCE(sum(pages), 0) FROM checkpoints WHERE stream = "
                           "'poe_stash:pc'");
  }
  nlohmann::json stats = sim_->Stats();
  EXPECT_GE(stats["oauth"]["grants"]["client_credentials"].get<int64_t>(), 4);
  EXPECT_GE(poe_token_->fetches(), 4);
  EXPECT_EQ(stats["oauth"]["rejected"]["poe"].dump(),
            R"({"expired":0,"invalid":0,"missing":0,"scope":0})");
  // The stream kept moving through the refreshes (on the wall clock the
  // simulator's stream grows a page a second).
  EXPECT_GE(pages_seen, 10);
  EXPECT_GT(db_.Count("SELECT count(*) FROM poe_stash_raw"), 0);
  EXPECT_EQ(db_.Count("SELECT count(*) FROM dead_tasks"), 0);
}

TEST_F(StreamE2eTest, AgentKilledMidPageLeavesNoGapAndNoDuplicate) {
  StartAll(/*backlog_pages=*/30, /*in_process_agent=*/false);
  const std::string log =
      ::testing::TempDir() + "stream-agent-" + std::to_string(getpid()) + ".log";
  auto first = std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{SLUICE_AGENT_BINARY, "--agent_id=doomed-agent",
                               "--coordinator=" + Address(), "--upstream_poe=" + sim_->base_url(),
                               "--contact=streams@sluice.invalid", "--workers=2",
                               "--lease_duration_s=2", "--lease_wait_ms=200"},
      std::vector<std::string>{}, log);
  ASSERT_GT(first->pid(), 0);
  ASSERT_TRUE(WaitFor([&] {
    return db_.Count("SELECT pages FROM checkpoints WHERE stream = 'poe_stash:pc'") >= 5;
  })) << testing::ReadFile(log);

  // The next answer takes a while: the agent has asked for its page and is
  // waiting for it when it dies.
  sim::FaultConfig slow;
  slow.fault_slow_rate = 1;
  slow.fault_slow_ms = 1500;
  ASSERT_TRUE(sim_->SetFaults(slow).ok());
  ASSERT_TRUE(WaitFor([&] { return sim_->Stats()["faults"].value("slow", 0) > 0; }, seconds(20)));
  const std::string cursor_at_kill = Cursor("poe_stash:pc");
  first->Kill();
  ASSERT_TRUE(sim_->SetFaults(sim::FaultConfig{}).ok());
  const int64_t pages_at_kill =
      db_.Count("SELECT pages FROM checkpoints WHERE stream = 'poe_stash:pc'");
  EXPECT_LT(pages_at_kill, 30) << "killed before the end of the backlog";

  // The lease runs out; a second agent takes the stream where it stood.
  StartInProcessAgent("rescue-agent");
  ASSERT_TRUE(WaitFor([&] { return Cursor("poe_stash:pc") == sim::PoeRoutes::ChangeIdOf(30); }))
      << Cursor("poe_stash:pc");
  ExpectExactlyPages(30);
  EXPECT_EQ(db_.Query("SELECT agent_id FROM checkpoint_transitions WHERE stream = 'poe_stash:pc' "
                      "AND from_cursor = '" +
                      cursor_at_kill + "'"),
            "rescue-agent")
      << "the page the killed agent held was committed once, by its successor";
  EXPECT_EQ(db_.Count("SELECT count(DISTINCT agent_id) FROM checkpoint_transitions WHERE "
                      "stream = 'poe_stash:pc'"),
            2);
}

}  // namespace
}  // namespace sluice::testing
