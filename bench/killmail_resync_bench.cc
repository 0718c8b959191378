// Incremental killmail sync (seed 003), measured: a coordinator, one agent
// and the simulator in-process on loopback. One character gets a history of
// --killmails killmails (ESI keeps at most 50 pages of 50); a first sync
// reads the whole list, then --new_killmails are added and a re-sync reads
// only until the stored id. Prints list pages fetched (goal: 1 against 50)
// and wall times, for the list alone and with the killmail bodies.
//
//   bench/killmail_resync_bench [--dsn=... | SLUICE_PG_ADMIN_DSN=...] [--killmails=2500]
//
// With --dsn the database is a scratch one whose killmail and queue tables
// the bench empties; otherwise it creates (and drops) its own database from
// SLUICE_PG_ADMIN_DSN.
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "agent/agent_builder.h"
#include "bench/bench_util.h"
#include "common/env_flags.h"
#include "common/time_util.h"
#include "server/coordinator.h"
#include "sim/simulator.h"

DEFINE_string(dsn, "",
              "PostgreSQL DSN of a scratch database (else one is created from "
              "SLUICE_PG_ADMIN_DSN)");
DEFINE_int32(killmails, 2500, "killmails in the character's history before the first sync");
DEFINE_string(new_killmails, "1,49,50,120",
              "re-syncs to run, each after adding this many killmails (comma-separated)");
DEFINE_int32(workers, 8, "agent workers");

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point from) {
  return std::chrono::duration<double>(Clock::now() - from).count();
}

int64_t Query(const std::string& dsn, const std::string& sql) {
  pqxx::connection c(dsn);
  pqxx::nontransaction n(c);
  auto r = n.exec(sql);
  return r.empty() || r[0][0].is_null() ? 0 : r[0][0].as<int64_t>();
}

struct Harness {
  std::string dsn;
  std::unique_ptr<sim::Simulator> sim;
  std::unique_ptr<Coordinator> coordinator;
  std::unique_ptr<agent::Agent> agent;

  int64_t Route(const std::string& route) {
    auto stats = sim->Stats();
    const auto& r = stats["requests_by_route"];
    return r.contains(route) ? r[route].get<int64_t>() : 0;
  }

  nlohmann::json SimPost(const std::string& path) {
    absl::StatusOr<nlohmann::json> answer = bench::SimPost(sim->port(), path);
    CHECK(answer.ok()) << answer.status();
    return *answer;
  }

  bool Pending() {
    auto stats = coordinator->queue()->Stats();
    CHECK(stats.ok()) << stats.status();
    for (const auto& k : *stats) {
      if (k.ready + k.leased + k.retrying > 0) return true;
    }
    return false;
  }

  // Queues a manual sync; returns {list seconds, seconds until the queue
  // (bodies and discovered entities included) is empty}.
  std::pair<double, double> Sync(int64_t character) {
    const std::string synced_sql =
        "SELECT coalesce(extract(epoch FROM last_killmail_sync_at) * 1e6, 0)::bigint "
        "FROM character_tokens WHERE character_id = " +
        std::to_string(character);
    const int64_t before = Query(dsn, synced_sql);
    const auto start = Clock::now();
    CHECK(coordinator->queue()
              ->Enqueue("character_killmails", {character}, sluice::Priority::kManual)
              .ok());
    double list_s = 0;
    while (Query(dsn, synced_sql) == before)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    list_s = Seconds(start);
    int empty = 0;
    while (empty < 2) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      empty = Pending() ? 0 : empty + 1;
    }
    return {list_s, Seconds(start)};
  }
};

}  // namespace

int main(int argc, char** argv) {
  InitProcess(&argc, &argv, "killmail_resync_bench [--dsn=...] [--killmails=N]",
              {{"dsn", "SLUICE_DSN"}});
  FLAGS_minloglevel = std::max(FLAGS_minloglevel, 1);
  setenv("SIM_KILLMAIL_GROWTH_PERIOD_S", "0", 1);

  // Declared before the harness: dropped (if made here) after it has stopped.
  absl::StatusOr<std::unique_ptr<bench::ScratchDatabase>> db =
      bench::ScratchDatabase::Open(FLAGS_dsn, "sluice_km_bench");
  if (!db.ok()) {
    std::fprintf(stderr, "killmail_resync_bench: %s\n", db.status().ToString().c_str());
    return 2;
  }
  Harness h;
  h.dsn = (*db)->dsn();

  sim::SimConfig sc;
  sc.threads = 16;
  sc.esi_groups = {
      {"alliance", 1000000, 60}, {"corporation", 1000000, 60}, {"character", 1000000, 60}};
  h.sim = std::make_unique<sim::Simulator>(sc);
  CHECK(h.sim->Start(0).ok());

  h.coordinator = std::make_unique<Coordinator>(bench::LocalCoordinatorOptions(h.dsn, 8));
  bench::CheckOk(h.coordinator->Start(), "coordinator");

  agent::AgentConfig ac;
  ac.coordinator = "127.0.0.1:" + std::to_string(h.coordinator->port());
  ac.agent.agent_id = "km-bench";
  ac.agent.workers = FLAGS_workers;
  ac.agent.lease_wait = std::chrono::milliseconds(200);
  ac.agent.lease_duration = std::chrono::seconds(10);
  ac.handlers.esi_base_url = h.sim->base_url();
  ac.contact = "bench@sluice.invalid";
  auto built = agent::BuildAgent(ac);
  CHECK(built.ok()) << built.status();
  h.agent = std::move(*built);
  bench::CheckOk(h.agent->Start(), "agent");

  // The first character of the universe, with exactly --killmails killmails.
  const int64_t character = h.sim->Stats()["universe"]["characters"]["first"].get<int64_t>();
  {
    auto res =
        bench::SimGet(h.sim->port(), "/sim/killmails?character_id=" + std::to_string(character));
    CHECK(res.ok()) << res.status();
    const int64_t have = (*res)["total"].get<int64_t>();
    if (have < FLAGS_killmails) {
      h.SimPost("/sim/killmails?character_id=" + std::to_string(character) +
                "&count=" + std::to_string(FLAGS_killmails - have));
    }
  }
  const auto token = h.SimPost("/sim/tokens?character_id=" + std::to_string(character));
  pqxx::connection c(h.dsn);
  {
    pqxx::work w(c);
    w.exec_params(
        "INSERT INTO character_tokens (character_id, access_token, expires_at) "
        "VALUES ($1, $2, now() + interval '1 hour')",
        character, token["access_token"].get<std::string>());
    w.commit();
  }
  const std::string recent = "/characters/{character_id}/killmails/recent/";
  const std::string body = "/killmails/{killmail_id}/{killmail_hash}/";

  int64_t pages0 = h.Route(recent), bodies0 = h.Route(body);
  auto [full_list_s, full_all_s] = h.Sync(character);
  const int64_t full_pages = h.Route(recent) - pages0;
  const int64_t full_bodies = h.Route(body) - bodies0;
  const int64_t stored =
      Query(h.dsn, "SELECT count(*) FROM character_killmails WHERE character_id = " +
                       std::to_string(character));

  std::printf("killmail re-sync bench (character %lld, load %s)\n",
              static_cast<long long>(character), bench::LoadAverage().c_str());
  std::printf(
      "  full read : %lld killmails stored, %lld list pages, %lld bodies; list %.3f s, "
      "with bodies and discovered entities %.3f s\n",
      static_cast<long long>(stored), static_cast<long long>(full_pages),
      static_cast<long long>(full_bodies), full_list_s, full_all_s);
  for (absl::string_view part : absl::StrSplit(FLAGS_new_killmails, ',', absl::SkipEmpty())) {
    int added = 0;
    CHECK(absl::SimpleAtoi(part, &added) && added > 0) << "--new_killmails: bad count " << part;
    h.SimPost("/sim/killmails?character_id=" + std::to_string(character) +
              "&count=" + std::to_string(added));
    const int64_t before =
        Query(h.dsn, "SELECT count(*) FROM character_killmails WHERE character_id = " +
                         std::to_string(character));
    pages0 = h.Route(recent);
    bodies0 = h.Route(body);
    auto [re_list_s, re_all_s] = h.Sync(character);
    const int64_t re_pages = h.Route(recent) - pages0;
    const int64_t re_bodies = h.Route(body) - bodies0;
    const int64_t after =
        Query(h.dsn, "SELECT count(*) FROM character_killmails WHERE character_id = " +
                         std::to_string(character));
    std::printf(
        "  re-sync   : +%lld new killmails, %lld list page(s) (full read: %lld), %lld bodies; "
        "list %.3f s, with bodies %.3f s\n",
        static_cast<long long>(after - before), static_cast<long long>(re_pages),
        static_cast<long long>(full_pages), static_cast<long long>(re_bodies), re_list_s, re_all_s);
  }

  h.agent->Stop();
  h.coordinator->Shutdown(std::chrono::milliseconds(500));
  h.sim->Stop();
  return 0;
}
