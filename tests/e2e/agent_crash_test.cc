// End to end, with real sluice-agent processes over loopback: agents killed
// (kill -9) while they hold rate-token leases cost ESI's error limit only the
// calls they had started and not reported, and freeze no ESI route.
//
// Twelve agents (3 workers, 8 tokens per lease), one after another, sync
// characters from the simulator (every answer takes 100 ms, as ESI's do)
// from one address, and each is killed once it is busy. A probe asks the coordinator's throttler
// every 50 ms whether an ESI route of that address could be called now; a "freeze" is a stretch
// where it could not because of the address's error limit. The agents arm every token before its
// call (ArmTokens), so a dead agent's unused tokens stop holding the error limit when its lease
// expires (2 s) and are never charged as errors.
//
// The same scenario without arming (the behaviour before it, for the
// figures) runs with SLUICE_E2E_ARMING_BASELINE=1.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "server/coordinator.h"
#include "sim/simulator.h"
#include "tests/support/child_process.h"
#include "tests/support/test_database.h"

namespace sluice::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Steady = std::chrono::steady_clock;

constexpr int kCrashes = 12;
// Per agent: workers, and rate tokens per lease (8, as the issue saw).
constexpr int kWorkers = 3;
constexpr int kTokenBatch = 8;
constexpr char kEgress[] = "127.0.0.7";
constexpr char kErrors[] = "esi/errors/ip:127.0.0.7";
// A crash is made once the agent has made this many calls (it is busy, so
// it holds a lease), or after kBusyWait if it never gets that far.
constexpr int kBusyCalls = 8;
constexpr auto kBusyWait = seconds(5);
// Lease expiry (2 s) + the longest a call may take (30 s) + grace (5 s),
// and some slack: every lease of a killed agent has lapsed by then.
constexpr auto kLapseAfterKill = seconds(40);

struct CrashFigures {
  int64_t charged = 0;        // error units charged for lapsed calls
  int64_t unarmed = 0;        // calls released at expiry as never armed
  int64_t requests = 0;       // calls the simulator answered
  int64_t unreported = 0;     // of which never reported to the coordinator
  int64_t busy_kills = 0;     // crashes of an agent that had made kBusyCalls calls
  int64_t peak_reserved = 0;  // most error units held by calls in flight at once
  double longest_freeze_s = 0;
  double frozen_s = 0;  // in all
  int64_t violations = 0;
  int64_t sim_errors = 0;
};

class AgentCrashE2eTest : public ::testing::Test {
 protected:
  void TearDown() override {
    agents_.clear();  // SIGKILLs any still running
    if (coordinator_) coordinator_->Shutdown(milliseconds(500));
    if (sim_) sim_->Stop();
  }

  void Start() {
    sim::SimConfig sc;
    sc.threads = 32;
    sc.universe.seed = 16;
    sc.universe.alliances = 20;
    sc.universe.corporations = 200;
    sc.universe.characters = 4000;
    // Groups that never bind: the error limit (100 per minute per address)
    // is what this test is about.
    sc.esi_groups = {
        {"alliance", 10000000, 60}, {"corporation", 10000000, 60}, {"character", 10000000, 60}};
    sc.faults.fault_slow_rate = 1.0;  // every answer takes 100 ms
    sc.faults.fault_slow_ms = 100;
    sim_ = std::make_unique<sim::Simulator>(sc);
    ASSERT_TRUE(sim_->Start(0).ok());

    CoordinatorOptions co;
    co.listen = "127.0.0.1:0";
    co.dsn = db_.dsn();
    co.db_pool_size = 8;
    co.scheduler.enabled = false;
    coordinator_ = std::make_unique<Coordinator>(co);
    ASSERT_TRUE(coordinator_->Start().ok());

    std::vector<int64_t> characters;
    for (int64_t alliance : sim_->universe()->AllianceIds()) {
      const auto corporations = sim_->universe()->AllianceCorporations(alliance);
      ASSERT_TRUE(corporations.has_value());
      for (int64_t corporation : *corporations) {
        const auto members = sim_->universe()->CorporationMembers(corporation);
        ASSERT_TRUE(members.has_value());
        characters.insert(characters.end(), members->begin(), members->end());
      }
    }
    ASSERT_GT(characters.size(), 1000u);
    auto queued = coordinator_->queue()->Enqueue("character", characters, Priority::kManual);
    ASSERT_TRUE(queued.ok()) << queued.status();
  }

  std::unique_ptr<ChildProcess> StartAgent(int n, int arm_chunk) {
    const std::string id = absl::StrCat("crash-", n);
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{
            SLUICE_AGENT_BINARY, "--agent_id=" + id,
            absl::StrCat("--coordinator=127.0.0.1:", coordinator_->port()),
            "--upstream_esi=" + sim_->base_url(), absl::StrCat("--bind_address=", kEgress),
            absl::StrCat("--workers=", kWorkers), absl::StrCat("--token_batch=", kTokenBatch),
            "--lease_wait_ms=200", "--contact=e2e@sluice.invalid",
            absl::StrCat("--token_arm_chunk=", arm_chunk)},
        std::vector<std::string>{},
        absl::StrCat(::testing::TempDir(), "agent-crash-", getpid(), "-", id, ".log"));
  }

  int64_t SimRequests() { return sim_->Stats()["requests_total"].get<int64_t>(); }

  std::optional<throttle::BudgetInfo> ErrorBudget() {
    for (auto& b : coordinator_->throttler()->ListBudgets()) {
      if (b.name == kErrors) return b;
    }
    return std::nullopt;
  }

  // Kills kCrashes busy agents one after another while a probe measures
  // freezes, then waits for every lease to lapse (and any freeze to end).
  CrashFigures RunCrashes(int arm_chunk) {
    CrashFigures f;
    const throttle::CallKey probe_key{throttle::Upstream::kEsi, "/characters/{id}/", kEgress, ""};
    std::atomic<bool> stop{false};
    std::atomic<bool> frozen_now{false};
    std::thread probe([&] {
      bool frozen = false;
      Steady::time_point since;
      Duration total{};
      while (!stop) {
        auto t = coordinator_->throttler()->NextPermitted(probe_key, 1);
        const bool blocked = t.ok() && t->wait > Duration::zero() && t->limiting_budget == kErrors;
        const auto now = Steady::now();
        if (blocked && !frozen) since = now;
        if (!blocked && frozen) {
          f.longest_freeze_s =
              std::max(f.longest_freeze_s, std::chrono::duration<double>(now - since).count());
          total += now - since;
        }
        frozen = blocked;
        frozen_now = blocked;
        if (auto e = ErrorBudget()) {
          f.peak_reserved = std::max(f.peak_reserved, e->outstanding_units);
        }
        std::this_thread::sleep_for(milliseconds(50));
      }
      if (frozen) {
        f.longest_freeze_s = std::max(f.longest_freeze_s,
                                      std::chrono::duration<double>(Steady::now() - since).count());
        total += Steady::now() - since;
      }
      f.frozen_s = std::chrono::duration<double>(total).count();
    });

    Steady::time_point last_kill;
    for (int i = 0; i < kCrashes; ++i) {
      const int64_t before = SimRequests();
      auto agent = StartAgent(i, arm_chunk);
      EXPECT_GT(agent->pid(), 0);
      if (WaitUntil([&] { return SimRequests() >= before + kBusyCalls; }, kBusyWait)) {
        ++f.busy_kills;
      }
      agent->Kill();
      last_kill = Steady::now();
      agents_.push_back(std::move(agent));
    }
    // Every lease of a dead agent lapses by kLapseAfterKill; a freeze that
    // outlasts that (errors charged, waiting for ESI's window to end) is
    // measured to its end, within reason.
    while (Steady::now() < last_kill + kLapseAfterKill ||
           (frozen_now && Steady::now() < last_kill + seconds(150))) {
      std::this_thread::sleep_for(milliseconds(100));
    }
    stop = true;
    probe.join();

    const std::optional<throttle::BudgetInfo> errors = ErrorBudget();
    EXPECT_TRUE(errors.has_value()) << "no call was made from " << kEgress;
    const nlohmann::json stats = sim_->Stats();
    f.requests = stats["requests_total"].get<int64_t>();
    f.sim_errors = stats["errors"].get<int64_t>();
    f.violations = stats["violations"]["total"].get<int64_t>();
    if (errors) {
      f.charged = errors->counters.lapsed;
      f.unarmed = errors->counters.unarmed;
      f.unreported = f.requests - errors->counters.reported;
      EXPECT_EQ(errors->outstanding_calls, 0) << "every lease of a dead agent has ended";
    }
    return f;
  }

  void Record(const std::string& label, const CrashFigures& f) {
    const std::string line = absl::StrCat(
        label, ": ", kCrashes, " agent crashes (", f.busy_kills, " busy), ", f.requests, " calls, ",
        f.unreported, " never reported; error-limit units charged ", f.charged,
        ", calls released unarmed at expiry ", f.unarmed, ", peak error units held ",
        f.peak_reserved, "; longest ESI freeze ", f.longest_freeze_s, " s (", f.frozen_s,
        " s in all); simulator errors ", f.sim_errors, ", violations ", f.violations);
    std::cout << line << "\n";
    RecordProperty(label, line);
  }

  TestDatabase db_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<Coordinator> coordinator_;
  std::vector<std::unique_ptr<ChildProcess>> agents_;
};

TEST_F(AgentCrashE2eTest, KilledAgentsCostOnlyTheCallsTheyStartedAndFreezeNoEsiRoute) {
  Start();
  const CrashFigures f = RunCrashes(/*arm_chunk=*/1);
  Record("arming", f);
  EXPECT_GE(f.busy_kills, kCrashes / 2) << "the agents were killed before they got busy";
  EXPECT_EQ(f.sim_errors, 0);
  EXPECT_EQ(f.violations, 0);
  // Only calls that were started (armed) and never reported are charged:
  // those the simulator answered, and at most one per worker armed whose
  // request had not reached the simulator when its agent died (the
  // coordinator cannot tell it from a call in flight).
  EXPECT_LE(f.charged, f.unreported + kCrashes * kWorkers);
  EXPECT_GT(f.unarmed, 0) << "dead agents' unused tokens were released at expiry";
  // Unused tokens are released at expiry (2 s): no ESI route waits longer.
  EXPECT_LE(f.longest_freeze_s, 3.0);
}

TEST_F(AgentCrashE2eTest, BaselineWithoutArming) {
  const char* enabled = std::getenv("SLUICE_E2E_ARMING_BASELINE");
  if (enabled == nullptr || std::string(enabled) != "1") {
    GTEST_SKIP() << "set SLUICE_E2E_ARMING_BASELINE=1 to measure the crashes without arming "
                    "(about two minutes)";
  }
  Start();
  const CrashFigures f = RunCrashes(/*arm_chunk=*/0);
  Record("no_arming", f);
  EXPECT_EQ(f.violations, 0);
}

}  // namespace
}  // namespace sluice::testing
