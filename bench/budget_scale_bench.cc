// 100,000 character budgets in one throttler: what they cost the
// coordinator in memory, in decision latency, in listing time and in the
// state written to PostgreSQL, and how they go away when idle.
//
// ESI bills every authenticated call to its character, so a coordinator
// syncing 100,000 characters' killmails keeps a char-killmail bucket per
// character (server/throttle/README.md). This bench builds exactly that in
// this process, with the pieces the coordinator wires (server/coordinator.cc):
// a throttle::Throttler on a FakeClock (so windows and idleness are reached
// without waiting), the real StatePersister over PgStateStore on --dsn.
//
//   1. create: for each of --characters characters, LeaseTokens one call on
//      /characters/{character_id}/killmails/recent/ as char:<id> and Report
//      its answer (200, X-Ratelimit-Group: char-killmail, -Limit: 30/15m,
//      -Remaining). This process's RSS (VmRSS) before and after; this
//      process is the coordinator's throttler and persister, nothing else.
//      Later RSS lines also show the RSS after malloc_trim(0), since the big
//      writes leave freed pages with the allocator.
//   2. first write: every budget's row, one transaction (Flush).
//   3. steady writes: --ticks ticks of 500 ms (the persister's interval, on
//      the FakeClock), each touching --touched random characters (one call
//      each), then the write the persister would make.
//   4. decisions: LeaseTokens and Acquire (n = 1, no wait), each on 1 and
//      --threads threads, --decisions per op and thread count, spread over
//      every character (each thread walks its own slice of a shuffled
//      order, so every character gets the same share); each granted call is
//      reported at once, as an agent does, and the Report is timed apart.
//      The persister's thread runs meanwhile (real time, every 500 ms) as in
//      the coordinator: its TakeDelta copies every changed budget under the
//      throttler's mutex, which shows in a decision's tail (each run touches
//      every budget, far more than any real workload; compare with
//      --writer_during_decisions=false).
//   5. stalls with open leases: --open_leases Acquire grants (n = 1, never
//      reported, so they stay open: the FakeClock stands still) on one PoE
//      route whose budget is taught 10^8 hits/s, as decision_bench's Acquire
//      run leaves them; the grants' latency (p50/p99/max), then, with the
//      leases open and every budget changed (each character calls once
//      more), each operation that takes the
//      decision lock for more than one decision: the persister's write
//      (Flush), Snapshot() and ListBudgetFamilies() (all families, as a
//      /metrics scrape asks). For each: how long it took, the longest it held
//      the lock at once where it says, and the longest decision a probe thread
//      (NextPermitted in a loop on another budget) saw meanwhile, beside the
//      probe's own longest decision over 100 ms of nothing else (the noise of
//      the shared machine). The leases are then returned.
//   6. ListBudgetFamilies: all families (top 5 each), and one character's.
//   7. idle drop: the FakeClock moves past the window (15 min) +
//      idle_check_after; budget_count falls as the lazy sweeps (2,000 checks
//      per 250 ms) run, and the persister's writes carry the deletes.
//
// With the defaults every character gets 1 + 4 x 2 calls, plus a few of
// the 6,000 steady-state touches (2 tokens each): under the 15 its 30
// tokens allow, so decisions are grants; refusals are counted if any.
//
//   eval "$(scripts/pg_throwaway.sh start)"
//   build/bench/budget_scale_bench [--characters=100000] [--decisions=200000] [--threads=8]
//   scripts/pg_throwaway.sh stop "$SLUICE_PGDIR"
//
// The throttler's rows in --dsn's system_state are deleted first: use a
// scratch database.
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <numeric>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_util.h"
#include "common/clock.h"
#include "common/env_flags.h"
#include "db/migrations.h"
#include "server/store/migrator.h"
#include "server/store/pg_pool.h"
#include "server/store/pg_state_store.h"
#include "server/throttle/state_persister.h"
#include "server/throttle/throttle_state.h"
#include "server/throttle/throttler.h"

DEFINE_string(dsn, "", "PostgreSQL DSN of a scratch database (env SLUICE_DSN)");
DEFINE_int32(characters, 100000, "characters, one char-killmail budget each");
DEFINE_int32(decisions, 200000, "decisions per op (LeaseTokens, Acquire) and thread count");
DEFINE_int32(threads, 8, "threads of the multi-threaded decision runs");
DEFINE_int32(ticks, 20, "steady-state persister writes measured (500 ms apart on the FakeClock)");
DEFINE_int32(touched, 300, "characters calling in each 500 ms tick of the steady state");
DEFINE_int32(list_repeats, 5, "ListBudgetFamilies calls timed (the median is printed)");
DEFINE_int32(pool_size, 2, "connections of the state store's pool");
DEFINE_int32(open_leases, 150000,
             "leases held open while the stalls a decision can see are timed (0 = skip)");
DEFINE_bool(writer_during_decisions, true,
            "run the persister's writer thread during the decision runs, as the coordinator "
            "does (false: decisions alone, to see what the writer adds to the tail)");

namespace {

using namespace sluice;
using Steady = std::chrono::steady_clock;

constexpr char kRoute[] = "/characters/{character_id}/killmails/recent/";
constexpr char kEgress[] = "10.0.0.1";
constexpr int64_t kFirstCharacter = 2112000000;  // where the simulator's ids start
constexpr int kBucket = 30;                      // char-killmail: 30 tokens / 15 min
constexpr int kCost = 2;                         // a 2xx
constexpr auto kWindow = std::chrono::minutes(15);

// Steady::duration and Duration are both nanoseconds.
double Ms(Duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

throttle::CallKey KeyOf(int index) {
  return throttle::CallKey{throttle::Upstream::kEsi, kRoute, kEgress,
                           absl::StrCat("char:", kFirstCharacter + index)};
}

// What ESI answers a character's n-th call in the window.
throttle::HeaderList AnswerHeaders(int calls_so_far) {
  return {{"X-Ratelimit-Group", "char-killmail"},
          {"X-Ratelimit-Limit", "30/15m"},
          {"X-Ratelimit-Remaining", std::to_string(std::max(0, kBucket - kCost * calls_so_far))}};
}

// Calls per character so far (this window); a character is only ever
// touched by one thread at a time.
struct Ledger {
  std::vector<int> calls;
};

// Reports one granted call's 200. False if the throttler refused the report.
bool Answer(throttle::Throttler* t, int index, int64_t lease_id, Ledger* ledger) {
  throttle::Observation o;
  o.key = KeyOf(index);
  o.status = 200;
  o.headers = AnswerHeaders(++ledger->calls[static_cast<size_t>(index)]);
  o.lease_id = lease_id;
  o.response_age = Duration::zero();
  return t->Report(o).ok();
}

// One lease + report; false when refused or failed.
bool CallOnce(throttle::Throttler* t, int index, Ledger* ledger) {
  absl::StatusOr<throttle::LeaseGrant> g = t->LeaseTokens("bench-agent", KeyOf(index), 1);
  if (!g.ok() || g->granted == 0) return false;
  return Answer(t, index, g->lease_id, ledger);
}

struct Percentiles {
  double p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

Percentiles Summarise(std::vector<int64_t>* ns) {
  Percentiles p;
  if (ns->empty()) return p;
  std::sort(ns->begin(), ns->end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(ns->size()));
    return (*ns)[std::min(i, ns->size() - 1)] / 1e3;
  };
  p.p50_us = at(0.50);
  p.p99_us = at(0.99);
  p.p999_us = at(0.999);
  p.max_us = ns->back() / 1e3;
  return p;
}

struct DecisionRun {
  std::vector<int64_t> decide_ns, report_ns;
  int64_t granted = 0, refused = 0, errors = 0;
  double seconds = 0;
};

// `decisions` calls of `op` on `threads` threads; thread i walks its own
// slice of `order` round and round.
DecisionRun RunDecisions(throttle::Throttler* t, bool acquire, int threads, int64_t decisions,
                         const std::vector<int>& order, Ledger* ledger) {
  std::vector<DecisionRun> parts(static_cast<size_t>(threads));
  const size_t n = order.size();
  const auto start = Steady::now();
  std::vector<std::thread> pool;
  for (int th = 0; th < threads; ++th) {
    pool.emplace_back([&, th] {
      DecisionRun& r = parts[static_cast<size_t>(th)];
      const size_t from = n * static_cast<size_t>(th) / static_cast<size_t>(threads);
      const size_t to = n * static_cast<size_t>(th + 1) / static_cast<size_t>(threads);
      const int64_t mine = decisions / threads + (th < decisions % threads ? 1 : 0);
      const std::string agent = absl::StrCat("bench-agent-", th);
      r.decide_ns.reserve(static_cast<size_t>(mine));
      r.report_ns.reserve(static_cast<size_t>(mine));
      for (int64_t k = 0; k < mine; ++k) {
        const int index = order[from + static_cast<size_t>(k) % (to - from)];
        const throttle::CallKey key = KeyOf(index);
        int64_t lease_id = 0;
        bool ok = false;
        const auto t0 = Steady::now();
        if (acquire) {
          absl::StatusOr<throttle::AcquireResult> a = t->Acquire(key, 1, Duration::zero(), agent);
          ok = a.ok();
          if (ok && a->granted) lease_id = a->lease_id;
        } else {
          absl::StatusOr<throttle::LeaseGrant> g = t->LeaseTokens(agent, key, 1);
          ok = g.ok();
          if (ok && g->granted > 0) lease_id = g->lease_id;
        }
        const auto t1 = Steady::now();
        r.decide_ns.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
        if (!ok) {
          r.errors++;
          continue;
        }
        if (lease_id == 0) {
          r.refused++;
          continue;
        }
        r.granted++;
        const auto t2 = Steady::now();
        if (!Answer(t, index, lease_id, ledger)) r.errors++;
        r.report_ns.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now() - t2).count());
      }
    });
  }
  for (auto& th : pool) th.join();
  DecisionRun total;
  total.seconds = std::chrono::duration<double>(Steady::now() - start).count();
  for (DecisionRun& r : parts) {
    total.decide_ns.insert(total.decide_ns.end(), r.decide_ns.begin(), r.decide_ns.end());
    total.report_ns.insert(total.report_ns.end(), r.report_ns.begin(), r.report_ns.end());
    total.granted += r.granted;
    total.refused += r.refused;
    total.errors += r.errors;
  }
  return total;
}

void PrintWrite(const char* what, const throttle::StatePersister::WriteStats& w) {
  std::printf(
      "%-22s %7lld rows, %10lld bytes (%.0f bytes/row), %8.1f ms; decision lock held "
      "at most %.3f ms\n",
      what, static_cast<long long>(w.rows), static_cast<long long>(w.bytes),
      w.rows > 0 ? static_cast<double>(w.bytes) / w.rows : 0.0, Ms(w.took),
      Ms(w.longest_lock_hold));
}

// "A MiB (B MiB after malloc_trim, C MiB allocated)": the resident set,
// what is left once the allocator has handed its free pages back to the
// kernel, and the bytes malloc has handed out and not had back (main arena:
// the throttler's budgets are made on this thread). Big writes leave much
// of A behind; pages that still hold a live allocation stay in B.
std::string Rss() {
  const int64_t kept = bench::ResidentKib();
  malloc_trim(0);
  return absl::StrFormat("%.1f MiB (%.1f MiB after malloc_trim, %.1f MiB allocated)", kept / 1024.0,
                         bench::ResidentKib() / 1024.0,
                         static_cast<double>(mallinfo2().uordblks) / (1 << 20));
}

// Throttler rows in system_state now.
int64_t StoredRows(const std::string& dsn) {
  pqxx::connection c(dsn);
  pqxx::nontransaction n(c);
  return n
      .exec_params("SELECT count(*) FROM system_state WHERE starts_with(key, $1)",
                   throttle::kThrottleRowsPrefix)[0][0]
      .as<int64_t>();
}

// The stall `op` causes a decision: a probe thread decides in a loop
// (NextPermitted, one call, on `probe_key`) while `op` runs on this thread.
struct Stall {
  double op_ms = 0;
  double probe_max_ms = 0;  // the longest decision the probe saw
  int64_t probes = 0;
};

template <typename Op>
Stall TimeStall(throttle::Throttler* t, const throttle::CallKey& probe_key, Op op) {
  std::atomic<bool> stop{false};
  std::atomic<int64_t> probes{0};
  int64_t max_ns = 0;
  std::thread probe([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      const auto t0 = Steady::now();
      (void)t->NextPermitted(probe_key, 1);
      max_ns = std::max<int64_t>(
          max_ns, std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now() - t0).count());
      probes.fetch_add(1, std::memory_order_relaxed);
    }
  });
  while (probes.load() < 100) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Stall s;
  const auto t0 = Steady::now();
  op();
  s.op_ms = Ms(Steady::now() - t0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  probe.join();
  s.probe_max_ms = max_ns / 1e6;
  s.probes = probes.load();
  return s;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  InitProcess(&argc, &argv,
              "100,000 character budgets in one throttler: memory, latency, "
              "listing, persistence, idle drop",
              {{"dsn", "SLUICE_DSN"}});
  FLAGS_minloglevel = std::max(FLAGS_minloglevel, 1);
  if (FLAGS_dsn.empty()) {
    std::fprintf(stderr, "set --dsn or SLUICE_DSN (scripts/pg_throwaway.sh start)\n");
    return 2;
  }
  if (FLAGS_characters < FLAGS_threads || FLAGS_threads < 1 || FLAGS_decisions < 1 ||
      FLAGS_ticks < 0 || FLAGS_touched < 0 || FLAGS_list_repeats < 1) {
    std::fprintf(stderr,
                 "--characters >= --threads >= 1, --decisions >= 1, --ticks >= 0, "
                 "--touched >= 0, --list_repeats >= 1\n");
    return 2;
  }
  if (absl::Status s = bench::ClearThrottleState(FLAGS_dsn); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }

  // The coordinator's store wiring: pool, migrations (system_state), store.
  PgPool::Options pool_options;
  pool_options.dsn = FLAGS_dsn;
  pool_options.size = FLAGS_pool_size;
  PgPool pool(pool_options);
  Migrator migrator(&pool, EmbeddedMigrations());
  if (absl::StatusOr<MigrationResult> m = migrator.Apply(); !m.ok()) {
    std::fprintf(stderr, "migrations: %s\n", m.status().ToString().c_str());
    return 1;
  }
  PgStateStore store(&pool);

  FakeClock clock(SystemClock::Get()->Now());
  throttle::ThrottlerOptions options;
  options.seed = 1;
  const int64_t rss_empty = bench::ResidentKib();
  auto throttler = std::make_unique<throttle::Throttler>(&clock, options);
  throttle::StatePersister persister(throttler.get(), &store);
  if (absl::Status s = persister.Load(); !s.ok()) {
    std::fprintf(stderr, "persister: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf(
      "budget_scale_bench: %d characters, %d decisions per op and thread count, "
      "%d threads; %u hardware threads; load %s\n",
      FLAGS_characters, FLAGS_decisions, FLAGS_threads, std::thread::hardware_concurrency(),
      bench::LoadAverage().c_str());

  // 1. One call per character makes its budget.
  Ledger ledger;
  ledger.calls.assign(static_cast<size_t>(FLAGS_characters), 0);
  const int64_t rss_before = bench::ResidentKib();
  const auto created_from = Steady::now();
  int64_t refused = 0;
  for (int i = 0; i < FLAGS_characters; ++i) {
    refused += CallOnce(throttler.get(), i, &ledger) ? 0 : 1;
  }
  const double create_s = std::chrono::duration<double>(Steady::now() - created_from).count();
  const int64_t rss_after = bench::ResidentKib();
  const size_t budgets = throttler->budget_count();
  std::printf(
      "create                 %d characters in %.2f s (%.0f calls/s), %lld refused; "
      "budget_count %zu\n",
      FLAGS_characters, create_s, FLAGS_characters / create_s, static_cast<long long>(refused),
      budgets);
  std::printf(
      "RSS                    %.1f MiB before the throttler, %.1f MiB before the budgets, "
      "%.1f MiB after: +%.1f MiB, %.0f bytes per budget\n",
      rss_empty / 1024.0, rss_before / 1024.0, rss_after / 1024.0,
      (rss_after - rss_before) / 1024.0,
      budgets > 0 ? (rss_after - rss_before) * 1024.0 / static_cast<double>(budgets) : 0.0);

  // 2. The first write carries every row.
  if (absl::Status s = persister.Flush(); !s.ok()) {
    std::fprintf(stderr, "first write: %s\n", s.ToString().c_str());
    return 1;
  }
  PrintWrite("first write", persister.last_write());
  const std::string rss_written = Rss();
  std::printf("rows stored            %lld throttle/v2 rows in system_state\n",
              static_cast<long long>(StoredRows(FLAGS_dsn)));

  // 3. Steady state: a few hundred characters per 500 ms.
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int> pick(0, FLAGS_characters - 1);
  std::vector<double> rows, bytes, ms, hold;
  for (int tick = 0; tick < FLAGS_ticks; ++tick) {
    clock.Advance(std::chrono::milliseconds(500));
    for (int k = 0; k < FLAGS_touched; ++k) CallOnce(throttler.get(), pick(rng), &ledger);
    if (absl::Status s = persister.Flush(); !s.ok()) {
      std::fprintf(stderr, "steady write: %s\n", s.ToString().c_str());
      return 1;
    }
    const throttle::StatePersister::WriteStats w = persister.last_write();
    rows.push_back(static_cast<double>(w.rows));
    bytes.push_back(static_cast<double>(w.bytes));
    ms.push_back(Ms(w.took));
    hold.push_back(Ms(w.longest_lock_hold));
  }
  if (!rows.empty()) {
    std::printf(
        "steady write           %d ticks of %d characters per 500 ms: median %.0f rows, "
        "%.0f bytes, %.1f ms; max %.0f rows, %.0f bytes, %.1f ms; decision lock held at most "
        "%.3f ms\n",
        FLAGS_ticks, FLAGS_touched, Median(rows), Median(bytes), Median(ms),
        *std::max_element(rows.begin(), rows.end()), *std::max_element(bytes.begin(), bytes.end()),
        *std::max_element(ms.begin(), ms.end()), *std::max_element(hold.begin(), hold.end()));
  }
  std::printf("RSS                    %s after the first write, %s after the steady writes\n",
              rss_written.c_str(), Rss().c_str());

  // 4. Decisions, with the persister writing every 500 ms as it does in the
  // coordinator.
  std::vector<int> order(static_cast<size_t>(FLAGS_characters));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  if (FLAGS_writer_during_decisions) persister.Start();
  const int64_t writes_before_decisions = persister.writes();
  std::printf("%-12s %7s %9s %8s %7s %7s %8s %9s %8s %7s %9s %9s\n", "op", "threads", "decisions",
              "per_s", "p50_us", "p99_us", "p999_us", "max_us", "granted", "refused", "rep_p50us",
              "rep_p99us");
  for (bool acquire : {false, true}) {
    for (int threads : {1, FLAGS_threads}) {
      const int64_t writes_before = persister.writes();
      DecisionRun r =
          RunDecisions(throttler.get(), acquire, threads, FLAGS_decisions, order, &ledger);
      const Percentiles d = Summarise(&r.decide_ns);
      const Percentiles rep = Summarise(&r.report_ns);
      std::printf(
          "%-12s %7d %9zu %8.0f %7.2f %7.2f %8.1f %9.1f %8lld %7lld %9.2f %9.2f"
          "  (%lld writes done%s)\n",
          acquire ? "Acquire" : "LeaseTokens", threads, r.decide_ns.size(),
          static_cast<double>(r.decide_ns.size()) / r.seconds, d.p50_us, d.p99_us, d.p999_us,
          d.max_us, static_cast<long long>(r.granted), static_cast<long long>(r.refused),
          rep.p50_us, rep.p99_us, static_cast<long long>(persister.writes() - writes_before),
          r.errors > 0 ? absl::StrCat(", ", r.errors, " errors").c_str() : "");
      std::fflush(stdout);
    }
  }
  // Each run touches every budget, so each write carries about all of them.
  const int64_t writes_during = persister.writes() - writes_before_decisions;
  std::printf("writer                 %s during the runs: %lld writes completed\n",
              FLAGS_writer_during_decisions ? "running" : "off",
              static_cast<long long>(writes_during));
  if (writes_during > 0) PrintWrite("last write in the runs", persister.last_write());
  if (absl::Status s = persister.Stop(); !s.ok()) {  // joins a write in progress, then flushes
    std::fprintf(stderr, "persister stop: %s\n", s.ToString().c_str());
    return 1;
  }
  PrintWrite("final write (Stop)", persister.last_write());
  std::printf(
      "RSS                    %s after the decisions and their writes, "
      "budget_count %zu\n",
      Rss().c_str(), throttler->budget_count());

  // 5. Stalls with open leases.
  if (FLAGS_open_leases > 0) {
    const throttle::CallKey poe{throttle::Upstream::kPoe, "/bench/stall", "", "bench-team"};
    throttle::Observation taught;
    taught.key = poe;
    taught.status = 200;
    taught.headers = {{"X-Rate-Limit-Policy", "bench-stall"},
                      {"X-Rate-Limit-Rules", "Client"},
                      {"X-Rate-Limit-Client", "100000000:1:60"},
                      {"X-Rate-Limit-Client-State", "1:1:0"}};
    taught.response_age = Duration::zero();
    if (absl::Status s = throttler->Report(taught); !s.ok()) {
      std::fprintf(stderr, "teach: %s\n", s.ToString().c_str());
      return 1;
    }
    // Every character calls once more, so the write below carries every row.
    for (int i = 0; i < FLAGS_characters; ++i) CallOnce(throttler.get(), i, &ledger);
    const throttle::CallKey probe_key = KeyOf(FLAGS_characters / 2);
    std::vector<int64_t> lease_ids;
    lease_ids.reserve(static_cast<size_t>(FLAGS_open_leases));
    std::vector<int64_t> grant_ns;
    grant_ns.reserve(static_cast<size_t>(FLAGS_open_leases));
    int64_t not_granted = 0;
    const Stall grants = TimeStall(throttler.get(), probe_key, [&] {
      for (int i = 0; i < FLAGS_open_leases; ++i) {
        const auto t0 = Steady::now();
        absl::StatusOr<throttle::AcquireResult> a =
            throttler->Acquire(poe, 1, Duration::zero(), "bench-team");
        grant_ns.push_back(
            std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now() - t0).count());
        if (a.ok() && a->granted) {
          lease_ids.push_back(a->lease_id);
        } else {
          ++not_granted;
        }
      }
    });
    const Percentiles g = Summarise(&grant_ns);
    std::printf(
        "open leases            %zu Acquire grants held open (%lld not granted) in %.0f ms: "
        "p50 %.2f us, p99 %.2f us, max %.1f us; probe's longest decision %.3f ms\n",
        lease_ids.size(), static_cast<long long>(not_granted), grants.op_ms, g.p50_us, g.p99_us,
        g.max_us, grants.probe_max_ms);
    const Stall idle = TimeStall(throttler.get(), probe_key, [] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    });
    std::printf("stall: nothing          probe's longest decision %.3f ms over %.0f ms (%lld)\n",
                idle.probe_max_ms, idle.op_ms, static_cast<long long>(idle.probes));
    (void)throttler->TakeLongestHold();
    const Stall write = TimeStall(throttler.get(), probe_key, [&] {
      if (absl::Status s = persister.Flush(); !s.ok()) {
        std::fprintf(stderr, "write: %s\n", s.ToString().c_str());
      }
    });
    const throttle::StatePersister::WriteStats w = persister.last_write();
    throttle::Throttler::LockHold held = throttler->TakeLongestHold();
    std::printf(
        "stall: persister write %lld rows in %.1f ms, lock held at most %.3f ms at once "
        "(%.3f ms of CPU); probe's longest decision %.3f ms\n",
        static_cast<long long>(w.rows), write.op_ms, Ms(held.wall), Ms(held.cpu),
        write.probe_max_ms);
    size_t snapshot_budgets = 0;
    const Stall snap = TimeStall(throttler.get(), probe_key,
                                 [&] { snapshot_budgets = throttler->Snapshot().budgets.size(); });
    held = throttler->TakeLongestHold();
    std::printf(
        "stall: Snapshot()      %zu budgets in %.1f ms, lock held at most %.3f ms at once "
        "(%.3f ms of CPU); probe's longest decision %.3f ms\n",
        snapshot_budgets, snap.op_ms, Ms(held.wall), Ms(held.cpu), snap.probe_max_ms);
    (void)throttler->TakeLongestHold();
    size_t families = 0;
    const Stall list = TimeStall(throttler.get(), probe_key, [&] {
      families = throttler->ListBudgetFamilies(throttle::BudgetQuery{}).families.size();
    });
    held = throttler->TakeLongestHold();
    std::printf(
        "stall: ListBudgetFamilies all (%zu families) in %.1f ms, lock held at most %.3f ms at "
        "once (%.3f ms of CPU); probe's longest decision %.3f ms\n",
        families, list.op_ms, Ms(held.wall), Ms(held.cpu), list.probe_max_ms);
    for (int64_t id : lease_ids) (void)throttler->ReturnTokens(id, 1);
    std::fflush(stdout);
  }

  // 6. Listings.
  for (const std::string& match :
       {std::string(), absl::StrCat("char:", kFirstCharacter + FLAGS_characters / 2)}) {
    throttle::BudgetQuery query;
    query.match = match;
    std::vector<double> took;
    throttle::BudgetListing listing;
    std::vector<double> held_ms;
    for (int i = 0; i < FLAGS_list_repeats; ++i) {
      (void)throttler->TakeLongestHold();
      const auto t0 = Steady::now();
      listing = throttler->ListBudgetFamilies(query);
      took.push_back(Ms(Steady::now() - t0));
      const throttle::Throttler::LockHold h = throttler->TakeLongestHold();
      held_ms.push_back(Ms(h.cpu));
    }
    std::printf("ListBudgetFamilies     lock held per chunk, CPU ms, each call:");
    for (double h : held_ms) std::printf(" %.3f", h);
    std::printf("\n");
    std::printf(
        "ListBudgetFamilies     match '%s': %.2f ms (median of %d), %zu families, "
        "%zu budgets listed, total_budgets %lld\n",
        match.c_str(), Median(took), FLAGS_list_repeats, listing.families.size(),
        listing.budgets.size(), static_cast<long long>(listing.total_budgets));
  }

  // 7. Idle: past the window (every spent token back) and idle_check_after,
  // then the lazy sweeps drop the budgets; the persister (driven by hand
  // every 500 ms of FakeClock) writes the deletes.
  const size_t before_idle = throttler->budget_count();
  clock.Advance(kWindow + options.idle_check_after + std::chrono::seconds(1));
  std::printf("idle drop              FakeClock +%lld s; budget_count %zu",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(
                                         kWindow + options.idle_check_after)
                                         .count() +
                                     1),
              before_idle);
  int64_t delete_rows = 0, delete_bytes = 0;
  double delete_ms = 0;
  std::vector<double> sweep_ms;
  int steps = 0;
  const throttle::CallKey probe{throttle::Upstream::kEsi, kRoute, kEgress, ""};
  for (; steps < 400 && throttler->budget_count() > 4; ++steps) {
    clock.Advance(std::chrono::milliseconds(250));
    const auto t0 = Steady::now();
    (void)throttler->NextPermitted(probe, 1);  // any call runs the due sweep
    sweep_ms.push_back(Ms(Steady::now() - t0));
    if (steps % 2 == 1) {
      if (absl::Status s = persister.Flush(); !s.ok()) {
        std::fprintf(stderr, "\ndelete write: %s\n", s.ToString().c_str());
        return 1;
      }
      const throttle::StatePersister::WriteStats w = persister.last_write();
      delete_rows += w.rows;
      delete_bytes += w.bytes;
      delete_ms = std::max(delete_ms, Ms(w.took));
    }
    if (steps % 8 == 7) std::printf(" -> %zu", throttler->budget_count());
  }
  if (absl::Status s = persister.Flush(); s.ok()) {
    delete_rows += persister.last_write().rows;
    delete_bytes += persister.last_write().bytes;
  }
  std::printf(" -> %zu after %.1f s of FakeClock\n", throttler->budget_count(), steps * 0.25);
  std::printf(
      "idle drop writes       %lld rows (deletes plus meta and map rows each write), "
      "%lld bytes, slowest write %.1f ms\n",
      static_cast<long long>(delete_rows), static_cast<long long>(delete_bytes), delete_ms);
  std::printf(
      "idle drop calls        %zu calls 250 ms apart, each sweeping up to 2,000 budgets: "
      "median %.2f ms, slowest %.2f ms\n",
      sweep_ms.size(), Median(sweep_ms),
      sweep_ms.empty() ? 0.0 : *std::max_element(sweep_ms.begin(), sweep_ms.end()));
  std::printf("rows left              %lld throttle/v2 rows in system_state\n",
              static_cast<long long>(StoredRows(FLAGS_dsn)));
  std::printf("RSS                    %s after the drop; load %s\n", Rss().c_str(),
              bench::LoadAverage().c_str());
  return 0;
}
