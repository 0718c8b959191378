// End-to-end ingestion rate of the PoE public stash stream: the upstream
// simulator (PoE rules empty: no upstream limit) serves a backlog of --pages
// pages of --stashes_per_page stashes; a coordinator with the stream module
// on (its throttler's PoE default budget opened wide, so nothing but the
// pipeline itself paces the run) and one in-process agent ingest it from the
// start to the head. Each page is one lease -> GET -> CompleteTask -> commit
// (rows + cursor in one transaction), strictly in order: a stream has one
// holder at a time, so this is the rate of a single stream.
//
// Figures per round: seconds from the agent's start until the checkpoint
// reaches the head, pages per second, rows per second into poe_stash_raw,
// and the medians over --rounds. The coordinator, simulator, agent and
// PostgreSQL share this machine's cores (a load average is printed).
//
// The --dsn database's stream tables and queue are emptied before each
// round: use a scratch database.
//
//   eval "$(scripts/pg_throwaway.sh start)"
//   build-st/bench/stream_ingest_bench [--pages=400] [--stashes_per_page=50] [--rounds=3]
//   scripts/pg_throwaway.sh stop "$SLUICE_PGDIR"
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "agent/agent_builder.h"
#include "bench/bench_util.h"
#include "common/env_flags.h"
#include "db/migrations.h"
#include "server/coordinator.h"
#include "server/store/migrator.h"
#include "server/store/pg_pool.h"
#include "sim/poe_routes.h"
#include "sim/simulator.h"

DEFINE_string(dsn, "", "PostgreSQL DSN of a scratch database (env SLUICE_DSN)");
DEFINE_int32(pages, 400, "stash pages in the simulator's backlog");
DEFINE_int32(stashes_per_page, 50, "stashes per page");
DEFINE_int32(rounds, 3, "runs; medians are printed");
DEFINE_int32(timeout_s, 600, "give up on a round after this long");

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::string Query(const std::string& dsn, const std::string& sql) {
  pqxx::connection c(dsn);
  pqxx::nontransaction nt(c);
  auto r = nt.exec(sql);
  return r.empty() || r[0][0].is_null() ? std::string() : r[0][0].c_str();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

struct Round {
  double seconds = 0;
  int64_t pages = 0;
  int64_t rows = 0;
};

Round RunRound(int round) {
  // A clean start: no stream state, no queue, no learned throttler budgets.
  Query(FLAGS_dsn,
        "TRUNCATE checkpoints, checkpoint_transitions, stream_errors, poe_stash_raw, "
        "poe_exchange_raw, poe_exchange_gaps, discovery_queue, dead_tasks, entity_cache");
  auto cleared = sluice::bench::ClearThrottleState(FLAGS_dsn);
  CHECK(cleared.ok()) << cleared;

  sluice::sim::PoeStreamConfig stream;
  stream.backlog_pages = FLAGS_pages;
  stream.pages_per_second = 0;
  stream.stashes_per_page = FLAGS_stashes_per_page;
  sluice::sim::PoeRoutes::SetStreamConfig(stream);
  sluice::sim::SimConfig sc;
  sc.threads = 4;
  sc.poe_stash_rules.clear();
  sc.poe_exchange_rules.clear();
  sluice::sim::Simulator sim(sc);
  CHECK(sim.Start(0).ok());

  sluice::CoordinatorOptions co = sluice::bench::LocalCoordinatorOptions(FLAGS_dsn, 6);
  co.throttle.poe_default = {1000000, seconds(1)};
  co.workflows.streams.enabled = true;
  co.workflows.streams.realms = {"pc"};
  // The exchange stream starts at the current hour: nothing to catch up, so
  // the run measures the stash stream alone.
  co.workflows.streams.exchange_start_hour =
      static_cast<int64_t>(sluice::ToUnixSeconds(sluice::SystemClock::Get()->Now()));
  sluice::Coordinator coordinator(co);
  sluice::bench::CheckOk(coordinator.Start(), "coordinator");

  sluice::agent::AgentConfig ac;
  ac.coordinator = "127.0.0.1:" + std::to_string(coordinator.port());
  ac.agent.agent_id = "bench-agent";
  ac.agent.workers = 2;
  ac.agent.lease_wait = milliseconds(500);
  ac.handlers.poe_base_url = sim.base_url();
  ac.contact = "bench@sluice.invalid";
  auto agent = sluice::agent::BuildAgent(ac);
  CHECK(agent.ok()) << agent.status();

  const std::string head = sluice::sim::PoeRoutes::ChangeIdOf(FLAGS_pages);
  const auto started = std::chrono::steady_clock::now();
  sluice::bench::CheckOk((*agent)->Start(), "agent");
  const auto give_up = started + seconds(FLAGS_timeout_s);
  while (Query(FLAGS_dsn, "SELECT cursor FROM checkpoints WHERE stream = 'poe_stash:pc'") != head) {
    CHECK(std::chrono::steady_clock::now() < give_up) << "round " << round << " timed out";
    std::this_thread::sleep_for(milliseconds(10));
  }
  Round r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  (*agent)->Stop();
  coordinator.Shutdown(milliseconds(500));
  sim.Stop();
  r.pages =
      std::stoll(Query(FLAGS_dsn, "SELECT pages FROM checkpoints WHERE stream = 'poe_stash:pc'"));
  r.rows = std::stoll(Query(FLAGS_dsn, "SELECT count(*) FROM poe_stash_raw"));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  sluice::InitProcess(&argc, &argv, "PoE stash stream ingestion benchmark",
                      {{"dsn", "SLUICE_DSN"}});
  CHECK(!FLAGS_dsn.empty()) << "set --dsn or SLUICE_DSN";
  {
    sluice::PgPool::Options o;
    o.dsn = FLAGS_dsn;
    o.size = 1;
    sluice::PgPool pool(o);
    auto migrated = sluice::Migrator(&pool, sluice::EmbeddedMigrations()).Apply();
    CHECK(migrated.ok()) << migrated.status();
  }
  // Page size, for the record.
  sluice::sim::PoeStreamConfig stream;
  stream.stashes_per_page = FLAGS_stashes_per_page;
  sluice::sim::PoeRoutes sample(sluice::SystemClock::Get(), stream);
  std::printf("pages=%d stashes/page=%d page_bytes~%zu load=%s\n", FLAGS_pages,
              FLAGS_stashes_per_page, sample.StashesOf("", 1).dump().size(),
              sluice::bench::LoadAverage().c_str());
  std::printf("%-6s %10s %8s %10s %12s %12s\n", "round", "seconds", "pages", "rows", "pages/s",
              "rows/s");
  std::vector<double> pages_per_s, rows_per_s;
  for (int i = 0; i < FLAGS_rounds; ++i) {
    Round r = RunRound(i);
    pages_per_s.push_back(r.pages / r.seconds);
    rows_per_s.push_back(r.rows / r.seconds);
    std::printf("%-6d %10.2f %8lld %10lld %12.1f %12.1f\n", i + 1, r.seconds,
                static_cast<long long>(r.pages), static_cast<long long>(r.rows), pages_per_s.back(),
                rows_per_s.back());
    std::fflush(stdout);
  }
  std::printf("median %28s %12.1f %12.1f   load=%s\n", "", Median(pages_per_s), Median(rows_per_s),
              sluice::bench::LoadAverage().c_str());
  return 0;
}
