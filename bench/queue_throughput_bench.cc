// Lease -> report -> commit throughput through the real gRPC surface: a
// coordinator on loopback, --clients concurrent client threads that each
// lease a batch (LeaseTasks), then report every task (CompleteTask with a
// character record), repeating until --tasks are done. The figure to compare
// with is a PostgreSQL job queue's lease-run-delete rate on the same machine.
// --records=false completes each task with no record, as that queue's no-op
// job does: the queue's own work (lease, token check, cache entry, delete)
// without the entity's rows.
//
//   SLUICE_DSN=... bench/queue_throughput_bench [--tasks=50000] [--clients=32] [--batch=100]
//                                               [--fence=off|on|alternate]
//
// --fence=on runs the coordinator as an elected leader's is run: every
// connection stamps its transactions with the current epoch of
// `sluice_leader`, so each writing transaction passes the fence trigger
// (0015_leader.sql: FOR KEY SHARE on the leader row, once per transaction).
// --fence=alternate alternates unfenced and fenced rounds, a coordinator of
// its own each, and reports both medians.
//
// By default each round's entities are new, so every entity upsert inserts.
// --resync measures the daily re-sync of known entities instead: an untimed
// first round creates the entities, then every measured round completes the
// same ones again, so the upserts update existing rows. Either way the bench
// ends with the entity tables' updates and how many were HOT (no index
// entry written; db/migrations/0021_hot_entities.sql).
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <pqxx/pqxx>

#include <atomic>
#include <cstdio>
#include <map>
#include <thread>

#include "bench/bench_util.h"
#include "common/env_flags.h"
#include "common/grpc_security.h"
#include "common/time_util.h"
#include "db/migrations.h"
#include "server/coordinator.h"
#include "server/leader/leader_sql.h"
#include "server/store/migrator.h"
#include "server/store/pg_pool.h"
#include "sluice/v1/admin.grpc.pb.h"
#include "sluice/v1/agent.grpc.pb.h"

DEFINE_string(dsn, "", "PostgreSQL DSN of a scratch database");
DEFINE_int32(tasks, 50000, "tasks to run through");
DEFINE_int32(clients, 32, "concurrent client threads (agent workers)");
DEFINE_int32(batch, 100, "tasks per LeaseTasks call");
DEFINE_int32(rounds, 3, "measured rounds; the median is reported");
DEFINE_bool(batch_complete, false, "report each leased batch with one CompleteTasks call");
DEFINE_string(fence, "off",
              "off: no leader epoch; on: transactions stamped with the leader epoch and "
              "checked by the fence trigger; alternate: rounds alternate off and on");
DEFINE_bool(resync, false,
            "every round completes the same entities, created by an untimed first round: "
            "upserts update rows (a re-sync) instead of inserting them");
DEFINE_bool(records, true,
            "complete each task with a character record (the entity's rows are written); "
            "false: with none, so only the queue's own work is measured (graphile-worker's "
            "anchor runs a no-op job)");
DEFINE_bool(
    result_line, false,
    "also print one machine-readable line per round: RESULT {json} (bench/queue_anchor.sh)");

namespace {

using namespace sluice;

double RunRound(v1::AdminService::Stub* admin, v1::AgentService::Stub* agent,
                const ClientOptions& opts, int round) {
  // Enqueue in chunks (not timed).
  const int64_t base = static_cast<int64_t>(FLAGS_resync ? 1 : round + 1) * 100'000'000;
  for (int i = 0; i < FLAGS_tasks; i += 10000) {
    v1::EnqueueRequest req;
    req.set_kind("character");
    req.set_priority(v1::PRIORITY_CLASS_MANUAL);
    for (int j = i; j < std::min(FLAGS_tasks, i + 10000); ++j) req.add_ids(base + j);
    v1::EnqueueResponse resp;
    grpc::ClientContext ctx;
    PrepareContext(&ctx, opts, std::chrono::seconds(60));
    CHECK(admin->Enqueue(&ctx, req, &resp).ok());
  }
  std::atomic<int> done{0}, failed{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < FLAGS_clients; ++c) {
    threads.emplace_back([&, c] {
      while (done.load() < FLAGS_tasks) {
        v1::LeaseTasksRequest lr;
        lr.set_agent_id("bench-" + std::to_string(c));
        lr.add_kinds("character");
        lr.set_max_tasks(FLAGS_batch);
        *lr.mutable_lease_duration() = ToProtoDuration(std::chrono::seconds(60));
        v1::LeaseTasksResponse leased;
        grpc::ClientContext lctx;
        PrepareContext(&lctx, opts, std::chrono::seconds(30));
        grpc::Status s = agent->LeaseTasks(&lctx, lr, &leased);
        CHECK(s.ok()) << s.error_message();
        if (leased.tasks().empty()) return;
        v1::CompleteTasksRequest many;
        for (const auto& t : leased.tasks()) {
          v1::CompleteTaskRequest& cr = *many.add_completions();
          cr.set_task_id(t.task_id());
          cr.set_fencing_token(t.fencing_token());
          cr.set_agent_id(lr.agent_id());
          cr.set_etag("\"bench\"");
          if (FLAGS_records) {
            auto* ch = cr.add_records()->mutable_character();
            ch->set_character_id(t.entity_id());
            ch->set_name("Pilot " + std::to_string(t.entity_id()));
            ch->set_corporation_id(98000001);
            ch->set_security_status(0.5);
          }
          if (FLAGS_batch_complete) continue;
          v1::CompleteTaskResponse resp;
          grpc::ClientContext cctx;
          PrepareContext(&cctx, opts, std::chrono::seconds(30));
          if (agent->CompleteTask(&cctx, cr, &resp).ok()) {
            ++done;
          } else {
            ++failed;
          }
        }
        if (FLAGS_batch_complete) {
          v1::CompleteTasksResponse resp;
          grpc::ClientContext cctx;
          PrepareContext(&cctx, opts, std::chrono::seconds(60));
          CHECK(agent->CompleteTasks(&cctx, many, &resp).ok());
          for (const auto& r : resp.results()) {
            if (r.code() == 0) {
              ++done;
            } else {
              ++failed;
            }
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (FLAGS_result_line) {
    std::printf(
        "RESULT {\"system\":\"sluice\",\"mode\":\"%s\",\"enqueued\":%d,\"jobs\":%d,"
        "\"failed\":%d,\"seconds\":%.4f,\"jobs_per_s\":%.1f,\"clients\":%d,\"batch\":%d,"
        "\"records\":%s}\n",
        FLAGS_batch_complete ? (FLAGS_records ? "batch_complete" : "batch_no_records") : "per_task",
        FLAGS_tasks, done.load(), failed.load(), secs, done.load() / secs, FLAGS_clients,
        FLAGS_batch, FLAGS_records ? "true" : "false");
    std::fflush(stdout);
  }
  CHECK_EQ(failed.load(), 0);
  return done.load() / secs;
}

// Takes the next leader epoch, as an elected coordinator does; returns it.
int64_t TakeEpoch(PgPool* pool) {
  int64_t epoch = 0;
  bench::CheckOk(pool->Run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    pqxx::result r = tx.exec_params(leader_sql::kBumpEpoch, "queue_throughput_bench");
    tx.commit();
    epoch = r[0][0].as<int64_t>();
    return absl::OkStatus();
  }),
                 "take a leader epoch");
  return epoch;
}

// The entity tables' updates since the server's statistics were last reset
// (this database's bench runs), and how many were HOT.
void PrintHotUpdates(PgPool* pool) {
  // The coordinators' connections report their counts as they exit.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  bench::CheckOk(pool->Run([&](pqxx::connection& c) {
    pqxx::nontransaction nt(c);
    for (const auto& row :
         nt.exec("SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
                 " WHERE relname IN ('character_static', 'character_ephemeral', 'entity_cache')"
                 " ORDER BY relname")) {
      std::printf("%s: %lld inserts, %lld updates, %lld HOT\n", row[0].c_str(),
                  row[1].as<long long>(), row[2].as<long long>(), row[3].as<long long>());
    }
    return absl::OkStatus();
  }),
                 "read table statistics");
}

}  // namespace

int main(int argc, char** argv) {
  InitProcess(&argc, &argv, "lease -> complete -> commit throughput", {{"dsn", "SLUICE_DSN"}});
  CHECK(!FLAGS_dsn.empty()) << "set --dsn or SLUICE_DSN";
  CHECK(FLAGS_fence == "off" || FLAGS_fence == "on" || FLAGS_fence == "alternate")
      << "--fence is off, on or alternate";
  PgPool::Options po;
  po.dsn = FLAGS_dsn;
  po.size = 1;
  PgPool pool(po);
  bench::CheckOk(Migrator(&pool, EmbeddedMigrations()).Apply().status(), "migrate");
  // Tasks another run left (claim_bench leaves its last size queued) are
  // claimed along with this run's: a run after claim_bench's million gave
  // 13,201 tasks/s, on an emptied queue 24,622. Entities stay: re-syncing
  // them is work the rounds measure on purpose (--resync).
  bench::CheckOk(pool.Run([](pqxx::connection& c) {
    pqxx::work w(c);
    const int64_t left = w.exec1("SELECT count(*) FROM discovery_queue")[0].as<int64_t>();
    if (left > 0) {
      w.exec("TRUNCATE discovery_queue");
      std::printf("emptied the queue: %lld tasks left by an earlier run\n",
                  static_cast<long long>(left));
    }
    w.commit();
    return absl::OkStatus();
  }),
                 "empty the queue");

  std::map<bool, std::vector<double>> rates;  // by fenced
  // With --resync, round -1 creates the entities and is not reported.
  for (int r = FLAGS_resync ? -1 : 0; r < FLAGS_rounds; ++r) {
    const bool fenced = FLAGS_fence == "on" || (FLAGS_fence == "alternate" && r % 2 == 1);
    CoordinatorOptions co = bench::LocalCoordinatorOptions(FLAGS_dsn, 16);
    if (fenced) co.leader_epoch = TakeEpoch(&pool);
    Coordinator coordinator(co);
    bench::CheckOk(coordinator.Start(), "coordinator");
    ClientOptions opts;
    opts.target = "127.0.0.1:" + std::to_string(coordinator.port());
    auto channel = MakeChannel(opts);
    auto admin = v1::AdminService::NewStub(channel);
    auto agent = v1::AgentService::NewStub(channel);
    double rate = RunRound(admin.get(), agent.get(), opts, r);
    coordinator.Shutdown(std::chrono::seconds(1));
    if (r < 0) {
      std::printf("entities created (untimed): %.0f tasks/s\n", rate);
      continue;
    }
    std::printf("round %d (%s): %.0f tasks/s\n", r + 1, fenced ? "fenced" : "unfenced", rate);
    std::fflush(stdout);
    rates[fenced].push_back(rate);
  }
  for (auto& [fenced, list] : rates) {
    std::sort(list.begin(), list.end());
    std::printf(
        "lease->complete->commit (%s, %s, %s): median %.0f tasks/s over %zu rounds (%d tasks, "
        "%d clients, batch %d)\n",
        FLAGS_batch_complete ? "CompleteTasks per batch" : "CompleteTask per task",
        FLAGS_records ? "a character record each" : "no records", fenced ? "fenced" : "unfenced",
        list[list.size() / 2], list.size(), FLAGS_tasks, FLAGS_clients, FLAGS_batch);
  }
  PrintHotUpdates(&pool);
  return 0;
}
