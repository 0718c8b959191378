// Claim latency at queue sizes of 10 thousand, 100 thousand and 1 million
// entities, or those of --sizes, batch of 100 (--batch). The queue is filled
// with a Zipf-like access distribution (most entities never viewed, a few viewed
// very often) and ages spread over 30 days. Each timed claim goes through
// the store exactly as LeaseTasks does; between claims (untimed), the leased
// tasks are completed through the store (as a 304) and queued again as
// freshly refreshed, so the queue stays at its size and the urgency order
// keeps changing, as in steady state (--put_back=due instead makes them due
// again, so that each timed claim also promotes the previous claim's 100
// tasks).
// The queue is written directly, so the store reloads its ready and due
// indexes before the first claim of each size: that load is timed on its
// own (load_s: what a coordinator's start costs at that size), and the
// process's peak resident memory after it (rss_mb: the indexes' size).
//
// --prewarm and --checkpoint_first set the cache and WAL state the claims
// meet (a bulk fill and a VACUUM leave most of the table outside
// PostgreSQL's cache whatever its size).
//
//   SLUICE_DSN=... bench/claim_bench [--sizes=10000,100000,1000000] [--claims=200]
//                                    [--prewarm] [--checkpoint_first]
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "common/clock.h"
#include "common/env_flags.h"
#include "common/time_util.h"
#include "db/migrations.h"
#include "server/store/migrator.h"
#include "server/store/pg_pool.h"
#include "server/store/pg_queue_store.h"
#include "server/workflows/esi/esi_kinds.h"

DEFINE_string(dsn, "", "PostgreSQL DSN of a scratch database (its queue is emptied)");
DEFINE_string(sizes, "10000,100000,1000000", "queue sizes to measure");
DEFINE_int32(batch, 100, "tasks per claim");
DEFINE_int32(claims, 200, "timed claims per size");
DEFINE_bool(synchronous_claims, false,
            "claims wait for their commit to reach disk (the coordinator's flag of that name)");
DEFINE_string(put_back, "enqueue",
              "how claimed tasks return between claims: 'enqueue' (completed through the "
              "store as a 304, then queued again through the store, as refreshed now) or "
              "'due' (their backoff ends now: each timed claim also promotes the last "
              "claim's tasks)");
DEFINE_bool(prewarm, false,
            "load the queue table and its primary key into PostgreSQL's buffer cache "
            "(pg_prewarm) before the timed claims, as a server that has run a while with "
            "shared_buffers sized to hold them has them; needs the pg_prewarm extension");
DEFINE_bool(checkpoint_first, false,
            "CHECKPOINT before the timed claims, so each row a claim leases is its page's "
            "first change since a checkpoint and costs a full-page image, as in a steady "
            "state where a row is leased once per pass over a queue larger than what changes "
            "between two checkpoints");
DEFINE_double(never_fetched, 0.0,
              "share of entities never fetched (last_modified = epoch, as the queue "
              "stores them): one huge tie, as on a first daily sync");

namespace {

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

void Exec(sluice::PgPool& pool, const std::string& sql) {
  auto s = pool.Run([&](pqxx::connection& c) {
    pqxx::nontransaction nt(c);
    nt.exec(sql);
    return absl::OkStatus();
  });
  CHECK(s.ok()) << s;
}

}  // namespace

int main(int argc, char** argv) {
  sluice::InitProcess(&argc, &argv, "claim latency benchmark", {{"dsn", "SLUICE_DSN"}});
  CHECK(!FLAGS_dsn.empty()) << "set --dsn or SLUICE_DSN";
  sluice::PgPool::Options o;
  o.dsn = FLAGS_dsn;
  o.size = 2;
  sluice::PgPool pool(o);
  auto migrated = sluice::Migrator(&pool, sluice::EmbeddedMigrations()).Apply();
  CHECK(migrated.ok()) << migrated.status();
  sluice::TaskKindRegistry kinds;
  sluice::TaskExtensionRegistry extensions;
  CHECK(sluice::esi::RegisterEsiKinds(kinds, extensions).ok());
  sluice::PgQueueStore store(&pool, &kinds, &extensions);
  store.set_synchronous_claims(FLAGS_synchronous_claims);

  const double now_s = 1'800'000'000;
  std::printf("%-10s %8s %10s %10s %10s %12s %8s %8s\n", "queued", "batch", "p50_ms", "p99_ms",
              "max_ms", "weights", "load_s", "rss_mb");
  std::stringstream ss(FLAGS_sizes);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const long n = std::stol(item);
    Exec(pool, "TRUNCATE discovery_queue");
    // Weight = access_count + 1: 70% never viewed; the rest heavy-tailed.
    Exec(pool,
         "INSERT INTO discovery_queue (kind, entity_id, priority, weight, last_modified, "
         "enqueued_at)"
         " SELECT 'character', g, 3,"
         "  CASE WHEN r < 0.7 THEN 1 ELSE 1 + floor(power(1 / (1 - r), 1.5))::bigint END,"
         "  to_timestamp(" +
             std::to_string(now_s) +
             " - random() * 86400 * 30), now()"
             " FROM (SELECT g, random() AS r FROM generate_series(1, " +
             std::to_string(n) + ") g) s");
    if (FLAGS_never_fetched > 0) {
      Exec(pool, "UPDATE discovery_queue SET last_modified = 'epoch' WHERE random() < " +
                     std::to_string(FLAGS_never_fetched));
    }
    Exec(pool, "VACUUM ANALYZE discovery_queue");
    std::string weights;
    CHECK(pool.Run([&](pqxx::connection& c) {
                pqxx::nontransaction nt(c);
                weights =
                    nt.exec("SELECT count(DISTINCT weight) FROM discovery_queue")[0][0].c_str();
                return absl::OkStatus();
              })
              .ok());

    if (FLAGS_prewarm) {
      Exec(pool, "CREATE EXTENSION IF NOT EXISTS pg_prewarm");
      Exec(pool, "SELECT pg_prewarm('discovery_queue'), pg_prewarm('discovery_queue_pkey')");
    }
    if (FLAGS_checkpoint_first) Exec(pool, "CHECKPOINT");
    store.ReloadBeforeNextClaim();
    double load_s = 0;
    std::vector<double> ms;
    double t = now_s;
    for (int i = 0; i < FLAGS_claims + 5; ++i) {
      t += 1;
      auto start = std::chrono::steady_clock::now();
      auto group = store.Claim(
          {"character"}, {sluice::ClaimSlot{FLAGS_batch, sluice::FromUnixSeconds(t + 60), "bench"}},
          sluice::FromUnixSeconds(t));
      double elapsed =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      CHECK(group.ok()) << group.status();
      const std::vector<sluice::LeasedTask>* got = &(*group)[0];
      CHECK_EQ(static_cast<int>(got->size()), FLAGS_batch);
      if (i == 0) load_s = elapsed / 1000;
      if (i >= 5) ms.push_back(elapsed);  // first claims load the index, warm caches and plans
      std::vector<int64_t> ids, entities;
      for (const auto& task : *got) {
        ids.push_back(task.task_id);
        entities.push_back(task.entity_id);
      }
      const std::string at = "to_timestamp(" + std::to_string(t) + ")";
      if (FLAGS_put_back == "due") {
        // Refreshed now (a column no index of the store keeps), then handed
        // back through the store, due at once.
        Exec(pool, "UPDATE discovery_queue SET last_modified = " + at + " WHERE task_id = ANY('" +
                       sluice::PgArray(ids) + "'::bigint[])");
        for (const auto& task : *got) {
          sluice::Failure f;
          f.task_id = task.task_id;
          f.fencing_token = task.fencing_token;
          f.agent_id = "bench";
          f.release = true;
          auto released =
              store.Fail(f, sluice::FromUnixSeconds(t),
                         [](int, const sluice::Failure&) { return sluice::RetryDecision{}; });
          CHECK(released.ok()) << released.status();
        }
      } else {
        // Completed through the store as an agent's 304 is (the task gone,
        // the entity checked now, the store's indexes told), then queued
        // again by the store (last_modified = checked_at). Deleting the rows
        // behind the store's back would leave their leases in its due index,
        // and every later claim would try to promote them.
        std::vector<sluice::Completion> done(got->size());
        std::vector<const sluice::Completion*> batch;
        for (size_t k = 0; k < got->size(); ++k) {
          done[k].task_id = (*got)[k].task_id;
          done[k].fencing_token = (*got)[k].fencing_token;
          done[k].agent_id = "bench";
          done[k].not_modified = true;
          batch.push_back(&done[k]);
        }
        for (const auto& r :
             store.CompleteBatch(batch, sluice::FromUnixSeconds(t), sluice::FromUnixSeconds(t))) {
          CHECK(r.ok()) << r.status();
        }
        auto queued =
            store.Enqueue("character", entities, 3, false, sluice::FromUnixSeconds(t), "");
        CHECK(queued.ok()) << queued.status();
      }
    }
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    std::printf("%-10ld %8d %10.2f %10.2f %10.2f %12s %8.1f %8ld\n", n, FLAGS_batch,
                Percentile(ms, 0.5), Percentile(ms, 0.99), *std::max_element(ms.begin(), ms.end()),
                weights.c_str(), load_s, usage.ru_maxrss / 1024);
    std::fflush(stdout);
  }
  return 0;
}
