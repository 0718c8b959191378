// Killmail sync of a fleet of characters against budgets billed per
// character, measured against what the upstream itself allows.
//
// ESI bills an authenticated call to its character: every character's
// killmail list (/characters/{id}/killmails/recent/, group char-killmail,
// 30 tokens / 15 min, ESI's real value) has a bucket of its own, and the
// public killmail bodies are billed to the address they come from. So N
// characters' lists take about what one character's takes, and the bodies
// take what the addresses' body budget allows. This bench syncs --characters
// characters from scratch and compares the wall time with that ideal:
//
//   ideal = max over characters of (its list pages at its bucket's rate:
//           a page costs 2 tokens, so up to 15 pages fit the first 30 tokens
//           and cost no time; each further 15 pages wait one more window)
//         + bodies fetched / (body group rate per address x addresses)
//
// The body term is the steady rate the brief asks for; a floating window
// starts full, so the tighter bound (the first window's bucket is free) is
// printed too. The goal in the issue is wall / ideal <= 1.1.
//
// One process holds the simulator (per-caller metering, universe of
// --characters characters), a coordinator on --dsn (or a database it creates
// from SLUICE_PG_ADMIN_DSN) and --addresses agents built by
// agent::BuildAgent, the i-th bound to 127.0.0.(i+2) so the simulator bills
// each address's bodies separately (all of 127.0.0.0/8 is local on Linux).
// In-process agents rather than sluice-agent processes: the agents then
// share one process with the coordinator and the simulator, which on a
// 2-core machine competes less for the cores than extra processes would, and
// the bench needs nothing from tests/. They are the production wiring all
// the same (BuildAgent is what sluice-agent's main() calls).
//
// Groups: char-killmail 30/15m per character; the bodies in group "killmail"
// of --body_limit per address. ESI lists that group at 3600/15m (2 bodies/s
// per address): 1000 characters' ~64,000 bodies would take 4.5 hours from
// two addresses. The default, 2000/10s (100 bodies/s per address, 50x
// ESI's rate), makes that ~5.3 minutes while staying well below what the
// agents and the coordinator can process here (~500 bodies/s unthrottled on
// 2 cores), so the budget, not the machine, binds. Everything else (the
// entities the bodies name) is in groups too large to bind. Growth of the simulator's killmail
// histories is off, so the lists do not change during a run.
//
// Done = every character synced (character_tokens.last_killmail_sync_at) and
// every killmail listed has its body (killmails.fetched_at). Entities the
// bodies name are queued too and fetched alongside; they are not waited for.
// Any upstream limit violation is printed in a banner and the bench exits 1.
//
//   eval "$(scripts/pg_throwaway.sh start)"
//   build/bench/killmail_fleet_bench [--characters=1000] [--addresses=2]
//       [--body_limit=2000/10s] [--workers=8]
//   scripts/pg_throwaway.sh stop "$SLUICE_PGDIR"
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/agent_builder.h"
#include "bench/bench_util.h"
#include "common/env_flags.h"
#include "common/time_util.h"
#include "server/coordinator.h"
#include "server/throttle/throttler.h"
#include "sim/config.h"
#include "sim/simulator.h"
#include "sluice/v1/killmails.grpc.pb.h"

DEFINE_string(dsn, "",
              "PostgreSQL DSN of a scratch database whose queue, entity and killmail "
              "tables the bench empties (env SLUICE_DSN); empty: a database is created "
              "from SLUICE_PG_ADMIN_DSN and dropped");
DEFINE_int32(characters, 1000, "characters to sync (the simulator's first N, one token each)");
DEFINE_int32(addresses, 2, "agents, the i-th bound to 127.0.0.(i+2): addresses billed for bodies");
DEFINE_int32(workers, 8, "worker threads per agent");
DEFINE_string(body_limit, "2000/10s",
              "the body group 'killmail' per address, tokens/window (a body costs 2 tokens)");
DEFINE_string(list_limit, "30/15m", "the list group 'char-killmail' per character (ESI: 30/15m)");
DEFINE_bool(seed_routes, false,
            "give the coordinator the simulator's OpenAPI document (route -> group), as an "
            "operator would save ESI's; otherwise groups are learned from answers");
DEFINE_int32(timeout_s, 900, "give up (and exit 1) after this many seconds");
DEFINE_int32(progress_s, 15, "a progress line this often, seconds; 0 = none");

namespace {

using namespace sluice;
using Steady = std::chrono::steady_clock;

constexpr char kListRoute[] = "/characters/{character_id}/killmails/recent/";
constexpr char kBodyRoute[] = "/killmails/{killmail_id}/{killmail_hash}/";
constexpr int kTokensPerPage = 2;  // ESI's cost of a 2xx

double SecondsSince(Steady::time_point from) {
  return std::chrono::duration<double>(Steady::now() - from).count();
}

int64_t RouteCount(const nlohmann::json& stats, const std::string& route) {
  const nlohmann::json& r = stats["requests_by_route"];
  return r.contains(route) ? r[route].get<int64_t>() : 0;
}

// Time one caller needs for `calls` calls of 2 tokens on a floating window
// of `limit` that starts full: the first limit/2 calls go at once, each
// further limit/2 one window later.
double FloatingWindowSeconds(int64_t calls, const sim::EsiGroupLimit& limit) {
  const int64_t per_window = limit.tokens / kTokensPerPage;
  if (calls <= 0 || per_window <= 0) return 0;
  return static_cast<double>((calls - 1) / per_window) * limit.window_seconds;
}

absl::StatusOr<sim::EsiGroupLimit> ParseLimit(const std::string& group, const std::string& text) {
  absl::StatusOr<std::vector<sim::EsiGroupLimit>> g = sim::ParseEsiGroups(group + "=" + text);
  if (!g.ok()) return g.status();
  if (g->size() != 1 || g->front().tokens < kTokensPerPage) {
    return absl::InvalidArgumentError(absl::StrCat(group, ": want tokens/window, tokens >= 2"));
  }
  return g->front();
}

struct Progress {
  int64_t synced = 0;     // characters with a completed sync
  int64_t listed = 0;     // killmails known from the lists
  int64_t unfetched = 0;  // of which without a body yet
  int64_t dead = 0;       // killmail / character_killmails tasks given up
};

Progress Poll(const bench::ScratchDatabase& db) {
  Progress p;
  p.synced =
      db.QueryInt("SELECT count(*) FROM character_tokens WHERE last_killmail_sync_at IS NOT NULL");
  p.listed = db.QueryInt("SELECT count(*) FROM killmails");
  p.unfetched = db.QueryInt("SELECT count(*) FROM killmails WHERE fetched_at IS NULL");
  p.dead = db.QueryInt(
      "SELECT count(*) FROM dead_tasks WHERE kind IN ('killmail', 'character_killmails')");
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  InitProcess(&argc, &argv,
              "killmail sync of N characters against per-character budgets, vs the ideal",
              {{"dsn", "SLUICE_DSN"}});
  FLAGS_minloglevel = std::max(FLAGS_minloglevel, 1);  // warnings and errors only
  if (FLAGS_characters < 1 || FLAGS_addresses < 1 || FLAGS_addresses > 250 || FLAGS_workers < 1) {
    std::fprintf(stderr, "--characters >= 1, --addresses in 1..250, --workers >= 1\n");
    return 2;
  }
  absl::StatusOr<sim::EsiGroupLimit> body_limit = ParseLimit("killmail", FLAGS_body_limit);
  absl::StatusOr<sim::EsiGroupLimit> list_limit = ParseLimit("char-killmail", FLAGS_list_limit);
  if (!body_limit.ok() || !list_limit.ok()) {
    std::fprintf(stderr, "--body_limit / --list_limit: %s\n",
                 (!body_limit.ok() ? body_limit.status() : list_limit.status()).ToString().c_str());
    return 2;
  }
  // The lists must not change while a run reads them.
  setenv("SIM_KILLMAIL_GROWTH_PERIOD_S", "0", 1);

  absl::StatusOr<std::unique_ptr<bench::ScratchDatabase>> db =
      bench::ScratchDatabase::Open(FLAGS_dsn, "sluice_fleet_bench");
  if (!db.ok()) {
    std::fprintf(stderr, "%s\n", db.status().ToString().c_str());
    return 2;
  }

  // A universe of exactly N characters, so the first N are all of them and
  // every entity a body names is one the simulator serves.
  sim::SimConfig sc;
  sc.universe.characters = FLAGS_characters;
  sc.universe.corporations = std::max(1, FLAGS_characters / 5);
  sc.universe.alliances = std::max(1, FLAGS_characters / 100);
  // One connection per worker holds a simulator thread; room for control.
  sc.threads = FLAGS_addresses * FLAGS_workers + 8;
  constexpr int kLarge = 1000000;
  sc.esi_groups = {{"alliance", kLarge, 60},
                   {"corporation", kLarge, 60},
                   {"character", kLarge, 60},
                   {"universe", kLarge, 60},
                   {"contracts", kLarge, 60},
                   *list_limit,
                   *body_limit};
  sc.esi_killmail_body_group = body_limit->name;
  if (absl::Status v = sim::ValidateConfig(sc); !v.ok()) {
    std::fprintf(stderr, "simulator config: %s\n", v.ToString().c_str());
    return 2;
  }
  sim::Simulator sim(sc);
  if (absl::StatusOr<int> port = sim.Start(0); !port.ok()) {
    std::fprintf(stderr, "simulator: %s\n", port.status().ToString().c_str());
    return 1;
  }

  CoordinatorOptions co = bench::LocalCoordinatorOptions((*db)->dsn(), 8);
  // Character tokens are stored sealed: the coordinator needs a key.
  SecretBox::Key token_key;
  token_key.fill(0x6b);
  co.workflows.killmails.token_box = std::make_shared<const SecretBox>(token_key, std::nullopt);
  std::string openapi_file;
  if (FLAGS_seed_routes) {
    absl::StatusOr<nlohmann::json> spec = bench::SimGet(sim.port(), "/meta/openapi.json");
    if (!spec.ok()) {
      std::fprintf(stderr, "%s\n", spec.status().ToString().c_str());
      return 1;
    }
    openapi_file = absl::StrCat("/tmp/killmail_fleet_bench_openapi_", getpid(), ".json");
    FILE* f = std::fopen(openapi_file.c_str(), "w");
    if (f == nullptr) return 1;
    std::fputs(spec->dump().c_str(), f);
    std::fclose(f);
    co.esi_openapi_file = openapi_file;
  }
  auto coordinator = std::make_unique<Coordinator>(co);
  if (absl::Status s = coordinator->Start(); !s.ok()) {
    std::fprintf(stderr, "coordinator: %s\n", s.ToString().c_str());
    return 1;
  }
  const std::string target = absl::StrCat("127.0.0.1:", coordinator->port());

  // Tokens for the first N characters, registered as an operator would
  // (sluicectl tokens add goes through the same RPC).
  absl::StatusOr<nlohmann::json> issued = bench::SimPost(
      sim.port(), absl::StrCat("/sim/tokens?count=", FLAGS_characters, "&ttl_s=86400"));
  if (!issued.ok() || !issued->is_array()) {
    std::fprintf(stderr, "tokens: %s\n", issued.status().ToString().c_str());
    return 1;
  }
  auto admin = v1::KillmailAdminService::NewStub(
      grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  std::vector<int64_t> characters;
  for (const nlohmann::json& t : *issued) {
    v1::RegisterCharacterTokenRequest req;
    req.set_character_id(t["character_id"].get<int64_t>());
    req.set_access_token(t["access_token"].get<std::string>());
    *req.mutable_expires_at() = ToProto(std::chrono::system_clock::now() + std::chrono::hours(24));
    v1::RegisterCharacterTokenResponse resp;
    grpc::ClientContext ctx;
    if (grpc::Status s = admin->RegisterCharacterToken(&ctx, req, &resp); !s.ok()) {
      std::fprintf(stderr, "RegisterCharacterToken: %s\n", s.error_message().c_str());
      return 1;
    }
    characters.push_back(req.character_id());
  }

  // The list term of the ideal: each character's pages, from the simulator.
  int64_t total_pages = 0, max_pages = 0, max_pages_character = 0;
  for (int64_t id : characters) {
    absl::StatusOr<nlohmann::json> km =
        bench::SimGet(sim.port(), absl::StrCat("/sim/killmails?character_id=", id));
    if (!km.ok()) {
      std::fprintf(stderr, "%s\n", km.status().ToString().c_str());
      return 1;
    }
    const int64_t pages = std::max<int64_t>(1, (*km)["pages"].get<int64_t>());
    total_pages += pages;
    if (pages > max_pages) {
      max_pages = pages;
      max_pages_character = id;
    }
  }

  std::printf(
      "killmail_fleet_bench: %d characters (universe %d alliances / %d corporations), "
      "%d agents x %d workers on 127.0.0.2..%d; groups char-killmail=%s per character, "
      "killmail=%s per address; routes %s; %u hardware threads shared by the simulator, "
      "the coordinator and the agents; load %s\n",
      FLAGS_characters, sc.universe.alliances, sc.universe.corporations, FLAGS_addresses,
      FLAGS_workers, FLAGS_addresses + 1, sim::FormatEsiLimit(*list_limit).c_str(),
      sim::FormatEsiLimit(*body_limit).c_str(),
      FLAGS_seed_routes ? "seeded from OpenAPI" : "learned from answers",
      std::thread::hardware_concurrency(), bench::LoadAverage().c_str());
  std::fflush(stdout);

  if (absl::StatusOr<EnqueueOutcome> q = coordinator->queue()->Enqueue(
          "character_killmails", characters, sluice::Priority::kManual);
      !q.ok()) {
    std::fprintf(stderr, "enqueue: %s\n", q.status().ToString().c_str());
    return 1;
  }
  const std::string load_before = bench::LoadAverage();
  const auto start = Steady::now();
  std::vector<std::unique_ptr<agent::Agent>> agents;
  for (int a = 0; a < FLAGS_addresses; ++a) {
    agent::AgentConfig ac;
    ac.coordinator = target;
    ac.agent.agent_id = absl::StrCat("fleet-agent-", a);
    ac.agent.workers = FLAGS_workers;
    ac.agent.lease_wait = std::chrono::milliseconds(200);
    ac.agent.log_interval = Duration::zero();
    ac.handlers.esi_base_url = sim.base_url();
    ac.bind_address = absl::StrCat("127.0.0.", a + 2);  // also the egress
    ac.contact = "bench@sluice.invalid";
    absl::StatusOr<std::unique_ptr<agent::Agent>> built = agent::BuildAgent(ac);
    if (!built.ok()) {
      std::fprintf(stderr, "agent: %s\n", built.status().ToString().c_str());
      return 1;
    }
    if (absl::Status s = (*built)->Start(); !s.ok()) {
      std::fprintf(stderr, "agent: %s\n", s.ToString().c_str());
      return 1;
    }
    agents.push_back(std::move(*built));
  }

  // Wait: every character synced, every listed killmail fetched.
  double lists_done_s = -1;
  bool done = false;
  Progress p;
  auto next_progress = start + std::chrono::seconds(FLAGS_progress_s);
  while (!done && SecondsSince(start) < FLAGS_timeout_s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    p = Poll(**db);
    if (lists_done_s < 0 && p.synced >= FLAGS_characters) lists_done_s = SecondsSince(start);
    done = p.synced >= FLAGS_characters && p.unfetched == 0;
    if (FLAGS_progress_s > 0 && Steady::now() >= next_progress) {
      next_progress += std::chrono::seconds(FLAGS_progress_s);
      std::printf(
          "  %6.1f s: %lld/%d characters synced, bodies %lld of %lld listed, "
          "dead %lld, load %s\n",
          SecondsSince(start), static_cast<long long>(p.synced), FLAGS_characters,
          static_cast<long long>(p.listed - p.unfetched), static_cast<long long>(p.listed),
          static_cast<long long>(p.dead), bench::LoadAverage().c_str());
      std::fflush(stdout);
    }
    // A dead body would never be fetched: stop rather than wait out the timeout.
    if (p.dead > 0 && p.synced >= FLAGS_characters && p.unfetched <= p.dead) break;
  }
  const double wall_s = SecondsSince(start);
  const std::string load_after = bench::LoadAverage();

  const nlohmann::json stats = sim.Stats();
  agent::AgentStats totals;
  for (auto& a : agents) {
    a->Stop();
    const agent::AgentStats s = a->stats();
    totals.tasks_done += s.tasks_done;
    totals.tasks_deferred += s.tasks_deferred;
    totals.tasks_released += s.tasks_released;
    totals.tasks_failed += s.tasks_failed;
    totals.upstream_requests += s.upstream_requests;
    totals.rate_limited += s.rate_limited;
  }
  throttle::BudgetQuery query;
  query.top = 1;
  const throttle::BudgetListing families = coordinator->throttler()->ListBudgetFamilies(query);

  // The figure.
  const int64_t list_calls = RouteCount(stats, kListRoute);
  const int64_t bodies = RouteCount(stats, kBodyRoute);
  const double list_term_s = FloatingWindowSeconds(max_pages, *list_limit);
  const double body_rate = static_cast<double>(body_limit->tokens) / kTokensPerPage /
                           body_limit->window_seconds * FLAGS_addresses;  // bodies per second
  const double body_term_s = bodies / body_rate;
  const double ideal_s = list_term_s + body_term_s;
  const int64_t bodies_per_address = (bodies + FLAGS_addresses - 1) / FLAGS_addresses;
  const double tight_ideal_s = list_term_s + FloatingWindowSeconds(bodies_per_address, *body_limit);

  std::printf("\n== killmail fleet: %s\n",
              done ? "every character synced, every body fetched"
                   : "NOT DONE (timeout or dead tasks): the figures below are partial");
  std::printf("characters          %lld synced of %d; lists done after %.1f s\n",
              static_cast<long long>(p.synced), FLAGS_characters, lists_done_s);
  std::printf(
      "list pages          %lld fetched (%lld expected from the simulator's lists; "
      "most: %lld pages, character %lld)\n",
      static_cast<long long>(list_calls), static_cast<long long>(total_pages),
      static_cast<long long>(max_pages), static_cast<long long>(max_pages_character));
  std::printf(
      "bodies              %lld fetched, %lld killmails listed, %lld without a body, "
      "dead tasks %lld\n",
      static_cast<long long>(bodies), static_cast<long long>(p.listed),
      static_cast<long long>(p.unfetched), static_cast<long long>(p.dead));
  std::printf("calls by route      %s\n", stats["requests_by_route"].dump().c_str());
  // The simulator bills the lists to characters and everything else to the
  // agents' addresses; it lists its busiest callers.
  int64_t char_calls = 0, ip_calls = 0;
  std::vector<std::string> top;
  for (const nlohmann::json& c : stats["requests_by_caller"]["top"]) {
    const std::string caller = c["caller"].get<std::string>();
    if (caller.rfind("ip:", 0) == 0) top.push_back(absl::StrCat(caller, "=", c["requests"].dump()));
  }
  for (const auto& [route, n] : stats["requests_by_route"].items()) {
    (route == kListRoute ? char_calls : ip_calls) += n.get<int64_t>();
  }
  std::printf("calls by caller     char:* %lld (%lld callers in all), ip:* %lld [%s]\n",
              static_cast<long long>(char_calls),
              static_cast<long long>(stats["requests_by_caller"]["callers"].get<int64_t>()),
              static_cast<long long>(ip_calls), absl::StrJoin(top, " ").c_str());
  std::printf("statuses (sim)      %s\n", stats["responses_by_status"].dump().c_str());
  std::printf(
      "agents              tasks done %lld, deferred %lld, released %lld, failed %lld, "
      "upstream requests %lld, 420/429 %lld\n",
      static_cast<long long>(totals.tasks_done), static_cast<long long>(totals.tasks_deferred),
      static_cast<long long>(totals.tasks_released), static_cast<long long>(totals.tasks_failed),
      static_cast<long long>(totals.upstream_requests),
      static_cast<long long>(totals.rate_limited));
  for (const throttle::FamilyInfo& f : families.families) {
    std::printf(
        "throttler family    %-34s %6lld live budgets, granted %lld, denied %lld, "
        "restrictions %lld\n",
        f.name.c_str(), static_cast<long long>(f.budgets),
        static_cast<long long>(f.counters.granted), static_cast<long long>(f.counters.denied),
        static_cast<long long>(f.counters.restrictions));
  }
  std::printf("ideal, list term    %.1f s (most pages %lld x %d tokens against %s)\n", list_term_s,
              static_cast<long long>(max_pages), kTokensPerPage,
              sim::FormatEsiLimit(*list_limit).c_str());
  std::printf("ideal, body term    %.1f s (%lld bodies / (%.1f bodies/s per address x %d))\n",
              body_term_s, static_cast<long long>(bodies), body_rate / FLAGS_addresses,
              FLAGS_addresses);
  std::printf("ideal               %.1f s (with the first window's full bucket free: %.1f s)\n",
              ideal_s, tight_ideal_s);
  std::printf("wall time           %.1f s (agents started to last body stored)\n", wall_s);
  std::printf("wall / ideal        %.3f   goal <= 1.1   (vs the tighter ideal: %.3f)\n",
              ideal_s > 0 ? wall_s / ideal_s : 0.0,
              tight_ideal_s > 0 ? wall_s / tight_ideal_s : 0.0);
  std::printf("load average        before %s, after %s\n", load_before.c_str(), load_after.c_str());
  const int64_t violations = bench::ReportViolations(stats);

  agents.clear();
  coordinator->Shutdown(std::chrono::milliseconds(500));
  coordinator.reset();
  sim.Stop();
  if (!openapi_file.empty()) std::remove(openapi_file.c_str());
  return violations > 0 || !done ? 1 : 0;
}
