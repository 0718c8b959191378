// Budget utilisation and violations of the global throttler, end to end: the
// issue's goal is "use >= 98% of a budget with zero violations" (the bench
// prints the figures against 0.97; it asserts nothing about them, but exits
// 1 on any upstream limit violation).
//
// One process holds the upstream simulator (sim/), a coordinator (its
// throttler serves over gRPC on loopback) and --agents "agents". Each agent is
// what sluice-agent builds: its own CoordinatorRateGate (own agent_id, own
// gRPC channel and connection, lease batch 2 x workers, the same egress
// address since all run on this host) and its own CurlClient, plus --workers
// threads that loop exactly like Agent::ProcessTask: Acquire a permit ->
// GET from the simulator -> Report the observation (status, headers,
// lease_id, sent_at/received_at) -> repeat, until --duration_s has passed.
//
// Scenarios (--scenario=esi|poe|both, run one after the other, each with a
// fresh simulator and a fresh coordinator whose persisted throttler state is
// deleted first, so every run starts from an idle, unlearned throttler):
//   esi  GET /characters/<id>/ (route "/characters/{id}/"); the simulator's
//        only group is character=--esi_limit (60/10s: 2xx costs 2 tokens,
//        5xx 0), ESI's error limit (--esi_error_limit per
//        --esi_error_window_s), and --esi_5xx_rate of injected 5xx.
//   poe  GET /public-stash-tabs?id=... (route "/public-stash-tabs") under the
//        per-IP rule --poe_rule (20:10:60,60:60:300: 20 hits per 10 s with a
//        60 s restriction, 60 per 60 s with 300 s); no faults.
//   egress (one run per count in --egresses, default 1,2,4): the esi route
//        from 1, 2, 4 source addresses. Agent i's gate names 127.0.0.(2 + i
//        mod count) as its egress and its CurlClient binds its connections
//        to it (all of 127.0.0.0/8 is local on Linux), so the simulator, which
//        bills a public call to its source address, keeps one character
//        bucket of --egress_limit (200/10s) per address; no faults; runs
//        --egress_duration_s (60 s, six windows). Permitted and achieved are
//        per address: permitted = what one address's bucket allows in the run
//        (PermittedEsi), achieved = the 2xx the simulator answered that
//        address (its requests_by_caller count less the non-2xx answers the
//        workers saw from it). Goal: >= 0.98 for every address and the total,
//        zero violations: n addresses get n times one address's calls. Per
//        address also: 2xx per window, and the time the upstream had room
//        the throttler held as spent (StrandedSampler), which is where a
//        shortfall comes from.
//
// Figures per scenario: calls made, the simulator's status breakdown,
// permitted vs achieved (see Permitted*() for the exact formulas), the
// utilisation ratio, violations (the simulator's count of requests sent while
// limited) and 429/420 responses, the use per window over the run, and the
// throttler's and gates' counters. With --rounds > 1, medians per scenario.
//
// The coordinator, simulator and all agents share this machine's cores (a
// load average is printed with each run). The throttler state in the --dsn
// database's system_state ('throttle/state', 'throttle/v2/...') is deleted
// before each run: use a scratch database.
//
// Any upstream limit violation (the simulator's violations.total) is printed
// in a banner and makes the bench exit 1: zero violations is the invariant.
//
//   eval "$(scripts/pg_throwaway.sh start)"
//   build-bench/bench/throttle_utilization_bench [--scenario=both] [--duration_s=180]
//       [--rounds=1] [--agents=8] [--workers=4]
//   build-bench/bench/throttle_utilization_bench --scenario=egress [--egresses=1,2,4]
//       [--egress_limit=200/10s] [--egress_duration_s=60]
//   scripts/pg_throwaway.sh stop "$SLUICE_PGDIR"
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <grpcpp/grpcpp.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/http/curl_client.h"
#include "agent/throttle/coordinator_rate_gate.h"
#include "bench/bench_util.h"
#include "common/env_flags.h"
#include "common/grpc_security.h"
#include "server/coordinator.h"
#include "server/throttle/throttle_state.h"
#include "sim/config.h"
#include "sim/simulator.h"
#include "sluice/v1/throttle.grpc.pb.h"

DEFINE_string(dsn, "", "PostgreSQL DSN of a scratch database (env SLUICE_DSN)");
DEFINE_string(scenario, "both", "esi | poe | both (esi, poe) | egress | all (esi, poe, egress)");
DEFINE_int32(duration_s, 180, "measured seconds per scenario run");
DEFINE_int32(rounds, 1, "runs of each scenario; medians are printed when > 1");
DEFINE_int32(agents, 8, "agents (each its own rate gate, channel and HTTP client)");
DEFINE_int32(workers, 4, "worker threads per agent (WORKER_COUNT)");
DEFINE_string(esi_limit, "60/10s", "the simulator's 'character' group: tokens/window");
DEFINE_double(esi_5xx_rate, 0.02, "share of ESI requests answered with an injected 5xx");
DEFINE_int32(esi_error_limit, 100, "ESI error limit: errors per window");
DEFINE_int32(esi_error_window_s, 60, "ESI error limit window, seconds");
DEFINE_string(poe_rule, "20:10:60,60:60:300", "the per-IP PoE rule: hits:period:restriction,...");
DEFINE_string(egresses, "1,2,4",
              "egress scenario: source address counts to run (127.0.0.2, 127.0.0.3, ...)");
DEFINE_string(egress_limit, "200/10s",
              "egress scenario: the simulator's 'character' group per address, tokens/window");
DEFINE_int32(egress_duration_s, 60, "egress scenario: measured seconds per run");
DEFINE_int32(egress_sample_ms, 50,
             "egress scenario: compare each address's bucket at the simulator with the "
             "throttler's view this often, ms (0 = off; see StrandedSampler)");

namespace {

using namespace sluice;
using Steady = std::chrono::steady_clock;

constexpr char kEgress[] = "127.0.0.1";  // esi and poe: every agent leaves from loopback

using bench::ClearThrottleState;
using bench::LoadAverage;

// One call as the worker saw it.
struct CallRecord {
  double sent_s;  // since the run's start
  int status;     // 0 = transport failure
  int address;    // index into Scenario::addresses (0 when unbound)
};

struct Scenario {
  std::string name;  // "esi" | "poe" | "egress-<n>"
  bool esi = true;   // an ESI route (egress too) or a PoE one
  sim::SimConfig sim;
  agent::Route route;
  int duration_s = 0;
  // Source addresses the agents bind to, agent i to addresses[i % size];
  // empty: unbound, all named kEgress.
  std::vector<std::string> addresses;
};

// One address's share of an egress run.
struct AddressResult {
  std::string address;
  int64_t permitted_calls = 0;
  int64_t achieved_calls = 0;  // 2xx the simulator answered it within the run
  int64_t sim_requests = 0;    // everything the simulator counted for it
  int64_t late_calls = 0;      // 2xx sent at or after the run's end (not achieved)
  std::string per_window;      // its 2xx per window, from the workers' records
  double stranded_s = 0;       // StrandedSampler: time with upstream room left unused
  int64_t stranded_max = 0;    // and the most tokens stranded at once
};

struct Result {
  std::string scenario;
  double duration_s = 0;
  int64_t calls = 0;
  std::map<int, int64_t> client_statuses;
  std::map<std::string, int64_t> sim_statuses;
  int64_t achieved = 0;   // units (ESI tokens / PoE hits) the upstream charged
  int64_t permitted = 0;  // units it would have allowed
  int64_t achieved_calls = 0;
  int64_t permitted_calls = 0;
  double utilisation = 0;  // achieved / permitted
  int64_t violations = 0;
  nlohmann::json violation_detail;
  int64_t throttled = 0;  // 429 + 420
  int64_t transport_errors = 0;
  std::vector<AddressResult> addresses;  // egress scenarios only
};

int64_t WindowsIn(double duration_s, int64_t period_s) {
  return static_cast<int64_t>(std::ceil(duration_s / static_cast<double>(period_s) - 1e-9));
}

// ESI, floating window of L tokens per W seconds. Every token spent in
// [t, t + W) is still counted at t + W - epsilon, so any W-long interval holds
// at most L tokens of spends, and a run of D seconds starting with an idle
// window at most L * ceil(D / W): that bound is "permitted" (it is reached by
// spending the whole budget at the start of every window; with D a multiple
// of W it equals L * D / W, the average-rate formula). "Achieved" is what the
// simulator charged: the tokens of every answered call by status (2xx 2,
// 3xx 1, 4xx 5, 5xx 0; 429/420 are refused before being charged).
// Utilisation = achieved / permitted tokens. In calls: an injected 5xx costs
// no token, so it is a free call on top of what the tokens allow:
// permitted calls = L * ceil(D / W) / cost(2xx) + (5xx answered), achieved
// calls = every call not refused (2xx + 5xx here).
void PermittedEsi(const sim::SimConfig& config, Result* r) {
  const sim::EsiGroupLimit& g = config.esi_groups.front();
  r->permitted = static_cast<int64_t>(g.tokens) * WindowsIn(r->duration_s, g.window_seconds);
  int64_t tokens = 0, calls = 0, free_calls = 0;
  for (const auto& [status_text, n] : r->sim_statuses) {
    const int status = std::stoi(status_text);
    if (status == 429 || status == 420) continue;
    tokens += n * config.esi_costs.ForStatus(status);
    calls += n;
    if (config.esi_costs.ForStatus(status) == 0) free_calls += n;
  }
  r->achieved = tokens;
  r->achieved_calls = calls;
  r->permitted_calls = r->permitted / config.esi_costs.status_2xx + free_calls;
}

// PoE, tiers of H hits per P seconds, counted per client address: a hit at
// time t is admitted only if every tier holds fewer than H hits in
// (t - P, t]. "Permitted" is the most hits any client can have admitted in a
// run of D seconds starting idle: the greedy schedule that sends each hit at
// the earliest instant every tier allows (hit k at max over tiers of
// t[k - H] + P, zero latency) is optimal (by induction its k-th hit is never
// later than any other schedule's), so permitted = its hits before D. For D
// a multiple of every period this is the min over tiers of H * D / P (the
// first window counted fully): for 20:10:60,60:60:300 over 180 s,
// min(20 * 18, 60 * 3) = 180, the 60 s tier binding; for D = 70 s it is
// 60 + 20 = 80, where the per-tier formula would say 120. The binding tier
// printed is the one with the fewest hits by the per-tier formula.
// Achieved = hits the simulator admitted (every answered non-429 call).
int64_t GreedyPoeHits(const std::vector<sim::PoeTier>& tiers, double duration_s) {
  std::vector<double> hits;
  double t = 0;
  while (true) {
    for (const sim::PoeTier& tier : tiers) {
      if (static_cast<int64_t>(hits.size()) >= tier.hits) {
        t = std::max(t, hits[hits.size() - static_cast<size_t>(tier.hits)] + tier.period_seconds);
      }
    }
    if (t >= duration_s) return static_cast<int64_t>(hits.size());
    hits.push_back(t);
  }
}

void PermittedPoe(const sim::SimConfig& config, Result* r, std::string* binding) {
  const std::vector<sim::PoeTier>& tiers = config.poe_stash_rules.front().tiers;
  int64_t fewest = -1;
  for (const sim::PoeTier& t : tiers) {
    int64_t hits = static_cast<int64_t>(t.hits) * WindowsIn(r->duration_s, t.period_seconds);
    if (fewest < 0 || hits < fewest) {
      fewest = hits;
      *binding = absl::StrCat(t.hits, ":", t.period_seconds, ":", t.restriction_seconds);
    }
  }
  int64_t hits = 0;
  for (const auto& [status_text, n] : r->sim_statuses) {
    if (std::stoi(status_text) != 429) hits += n;
  }
  r->permitted = GreedyPoeHits(tiers, r->duration_s);
  r->achieved = hits;
  r->permitted_calls = r->permitted;
  r->achieved_calls = hits;
}

// Units per window over the run, from the workers' own records: shows where
// a shortfall happened (start-up, learning, a restriction).
std::string Timeline(const std::vector<CallRecord>& calls, double duration_s, int period_s,
                     const std::function<int(int)>& units_of_status) {
  std::vector<int64_t> per(static_cast<size_t>(WindowsIn(duration_s, period_s)) + 1, 0);
  for (const CallRecord& c : calls) {
    size_t i = static_cast<size_t>(std::max(0.0, c.sent_s) / period_s);
    if (i >= per.size()) i = per.size() - 1;
    per[i] += units_of_status(c.status);
  }
  if (per.back() == 0) per.pop_back();
  return absl::StrJoin(per, " ");
}

// Egress: every address has its own bucket, so each is allowed what
// PermittedEsi allows one caller (in calls: L * ceil(D / W) / cost(2xx); no
// faults are injected, so there are no free calls), and achieves the 2xx
// the simulator answered it: its requests_by_caller count ("ip:<address>")
// less the non-2xx answers the workers saw from that address and the calls
// sent at or after the run's end (a worker's last permit may come in just as
// the run ends; the bound counts no window after D).
void PermittedEgress(const Scenario& scenario, const nlohmann::json& stats,
                     const std::vector<CallRecord>& records, Result* r) {
  const sim::EsiGroupLimit& g = scenario.sim.esi_groups.front();
  const int cost = scenario.sim.esi_costs.status_2xx;
  const int64_t per_address =
      static_cast<int64_t>(g.tokens) * WindowsIn(r->duration_s, g.window_seconds) / cost;
  std::map<std::string, int64_t> requests;
  for (const nlohmann::json& c : stats["requests_by_caller"]["top"]) {
    requests[c["caller"].get<std::string>()] = c["requests"].get<int64_t>();
  }
  std::vector<int64_t> not_2xx(scenario.addresses.size(), 0);
  std::vector<int64_t> late(scenario.addresses.size(), 0);
  for (const CallRecord& c : records) {
    if (c.status >= 300) {
      not_2xx[static_cast<size_t>(c.address)]++;
    } else if (c.status != 0 && c.sent_s >= r->duration_s) {
      late[static_cast<size_t>(c.address)]++;
    }
  }
  r->permitted_calls = r->achieved_calls = 0;
  for (size_t i = 0; i < scenario.addresses.size(); ++i) {
    AddressResult a;
    a.address = scenario.addresses[i];
    a.permitted_calls = per_address;
    a.sim_requests = requests["ip:" + a.address];
    a.late_calls = late[i];
    a.achieved_calls = std::max<int64_t>(0, a.sim_requests - not_2xx[i] - late[i]);
    std::vector<CallRecord> mine;
    for (const CallRecord& c : records) {
      if (c.address == static_cast<int>(i)) mine.push_back(c);
    }
    a.per_window = Timeline(mine, r->duration_s, g.window_seconds,
                            [](int status) { return status >= 200 && status < 300 ? 1 : 0; });
    r->permitted_calls += a.permitted_calls;
    r->achieved_calls += a.achieved_calls;
    r->addresses.push_back(a);
  }
  r->permitted = r->permitted_calls * cost;
  r->achieved = r->achieved_calls * cost;
}

std::shared_ptr<grpc::Channel> AgentChannel(const std::string& target, int agent) {
  // As MakeChannel(), plus a private subchannel pool and a distinct argument,
  // so each agent has its own TCP connection as separate processes would.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetString("sluice.bench.agent", absl::StrCat("agent-", agent));
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

// Character ids the simulator knows (walks alliances -> corporations -> members).
std::vector<int64_t> CharacterIds(const sim::Universe& u, size_t want) {
  std::vector<int64_t> ids;
  for (int64_t a : u.AllianceIds()) {
    for (int64_t c : u.AllianceCorporations(a).value_or(std::vector<int64_t>{})) {
      for (int64_t m : u.CorporationMembers(c).value_or(std::vector<int64_t>{})) {
        ids.push_back(m);
        if (ids.size() >= want) return ids;
      }
    }
  }
  return ids;
}

// Where utilisation is lost: samples, every --egress_sample_ms, each
// address's bucket as the simulator holds it (GET /sim/buckets) and as the
// throttler sees it (ListBudgets: cheap here, a handful of budgets). A
// sample is "stranded" when the throttler has no call of the address in
// flight and less than a 2xx's cost available, yet the simulator would
// admit a call even keeping the throttler's safety margin: room the
// upstream gives that the throttler believes spent (e.g. usage it could not
// explain, held for a window). Prints nothing itself; fills AddressResult.
class StrandedSampler {
 public:
  StrandedSampler(const Scenario& scenario, const sim::Simulator& sim, Coordinator* coordinator)
      : scenario_(scenario),
        sim_(sim),
        coordinator_(coordinator),
        seconds_(scenario.addresses.size(), 0),
        max_(scenario.addresses.size(), 0) {
    if (FLAGS_egress_sample_ms <= 0 || scenario.addresses.empty()) return;
    thread_ = std::thread([this] { Loop(); });
  }
  ~StrandedSampler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void Fill(Result* r) const {
    for (size_t i = 0; i < r->addresses.size() && i < seconds_.size(); ++i) {
      r->addresses[i].stranded_s = seconds_[i];
      r->addresses[i].stranded_max = max_[i];
    }
  }

 private:
  void Loop() {
    const sim::EsiGroupLimit& g = scenario_.sim.esi_groups.front();
    const throttle::ThrottlerOptions& o = coordinator_->throttler()->options();
    const int64_t margin = static_cast<int64_t>(g.tokens * o.margin_fraction) + o.margin_units;
    const int64_t cost = scenario_.sim.esi_costs.status_2xx;
    const double step_s = FLAGS_egress_sample_ms / 1000.0;
    while (!stop_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(FLAGS_egress_sample_ms));
      const std::vector<throttle::BudgetInfo> budgets = coordinator_->throttler()->ListBudgets();
      for (size_t i = 0; i < scenario_.addresses.size(); ++i) {
        const std::string caller = "ip:" + scenario_.addresses[i];
        const std::string name = absl::StrCat("esi/group/", g.name, "/", caller);
        auto b = std::find_if(budgets.begin(), budgets.end(),
                              [&](const throttle::BudgetInfo& x) { return x.name == name; });
        if (b == budgets.end() || b->outstanding_calls > 0 || b->window.remaining >= cost) continue;
        absl::StatusOr<nlohmann::json> bucket =
            bench::SimGet(sim_.port(), "/sim/buckets?caller=" + caller);
        if (!bucket.ok()) continue;
        const int64_t upstream = (*bucket)["groups"][g.name]["remaining"].get<int64_t>();
        if (upstream - margin < cost) continue;
        seconds_[i] += step_s;
        max_[i] = std::max(max_[i], upstream - margin - b->window.remaining);
      }
    }
  }

  const Scenario& scenario_;
  const sim::Simulator& sim_;
  Coordinator* const coordinator_;
  std::atomic<bool> stop_{false};
  std::vector<double> seconds_;  // written by the thread, read after Stop()
  std::vector<int64_t> max_;     // idem
  std::thread thread_;
};

absl::StatusOr<Result> RunScenario(const Scenario& scenario, int round) {
  if (absl::Status s = ClearThrottleState(FLAGS_dsn); !s.ok()) return s;
  sim::Simulator sim(scenario.sim);
  absl::StatusOr<int> port = sim.Start(0);
  if (!port.ok()) return port.status();

  // No periodic jobs: only the throttler is measured.
  Coordinator coordinator(bench::LocalCoordinatorOptions(FLAGS_dsn, 16));
  if (absl::Status s = coordinator.Start(); !s.ok()) return s;
  const std::string target = absl::StrCat("127.0.0.1:", coordinator.port());

  // What each worker calls.
  std::vector<std::string> urls;
  if (scenario.esi) {
    for (int64_t id : CharacterIds(*sim.universe(), 200)) {
      urls.push_back(absl::StrCat(sim.base_url(), "/characters/", id, "/"));
    }
  } else {
    for (int i = 0; i < 200; ++i) {
      urls.push_back(
          absl::StrCat(sim.base_url(), "/public-stash-tabs?id=", 1000 + i, "-2000-3000-4000-5000"));
    }
  }
  if (urls.empty()) return absl::InternalError("simulator universe has no characters");

  struct AgentRig {
    std::unique_ptr<agent::CoordinatorRateGate> gate;
    std::unique_ptr<agent::CurlClient> http;
  };
  std::vector<AgentRig> agents(FLAGS_agents);
  const auto address_of = [&](int agent) {
    return scenario.addresses.empty() ? 0 : agent % static_cast<int>(scenario.addresses.size());
  };
  for (int a = 0; a < FLAGS_agents; ++a) {
    agent::CoordinatorRateGateOptions gopts;  // as BuildAgent() sets them
    gopts.agent_id = absl::StrCat("bench-agent-", a);
    // BuildAgent: the egress is the bind address when one is set.
    gopts.egress = scenario.addresses.empty() ? kEgress : scenario.addresses[address_of(a)];
    gopts.rpc = ClientOptions{target, "", ""};
    gopts.lease_batch = std::clamp(2 * FLAGS_workers, 1, 1000);
    gopts.safety_margin = std::chrono::milliseconds(250);
    gopts.rpc_timeout = std::chrono::milliseconds(5000);
    agents[a].gate = std::make_unique<agent::CoordinatorRateGate>(
        gopts, v1::ThrottlerService::NewStub(AgentChannel(target, a)), SystemClock::Get());
    agents[a].gate->Start();
    agent::CurlClientOptions hopts;
    hopts.user_agent = agent::MakeUserAgent("bench@sluice.invalid");
    if (!scenario.addresses.empty()) hopts.bind_address = scenario.addresses[address_of(a)];
    agents[a].http = std::make_unique<agent::CurlClient>(hopts);
  }
  // Agents open their revocation stream before spending (protocol step 1).
  for (auto& rig : agents) {
    auto until = Steady::now() + std::chrono::seconds(10);
    while (!rig.gate->watching() && Steady::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!rig.gate->watching()) return absl::UnavailableError("revocation stream did not open");
  }

  const std::string load_before = LoadAverage();
  std::printf(
      "\n== %s round %d: %d agents x %d workers for %d s; simulator %s, coordinator %s; "
      "load %s\n",
      scenario.name.c_str(), round + 1, FLAGS_agents, FLAGS_workers, scenario.duration_s,
      sim.base_url().c_str(), target.c_str(), load_before.c_str());
  std::fflush(stdout);

  const Clock* clock = SystemClock::Get();
  const Duration duration = std::chrono::seconds(scenario.duration_s);
  std::mutex records_mu;
  std::vector<CallRecord> records;
  std::atomic<int> next_url{0};
  StrandedSampler stranded(scenario, sim, &coordinator);
  const auto start = Steady::now();
  const auto end = start + duration;
  std::vector<std::thread> threads;
  for (int a = 0; a < FLAGS_agents; ++a) {
    for (int w = 0; w < FLAGS_workers; ++w) {
      threads.emplace_back([&, a] {
        const int address = address_of(a);
        agent::CoordinatorRateGate* gate = agents[a].gate.get();
        agent::UpstreamClient* http = agents[a].http.get();
        std::vector<CallRecord> mine;
        while (Steady::now() < end) {
          // Agent::ProcessTask: Acquire -> call -> Report, nothing else.
          const TimePoint deadline = clock->Now() + (end - Steady::now());
          absl::StatusOr<agent::Permit> permit = gate->Acquire(scenario.route, deadline);
          if (!permit.ok()) continue;  // deadline reached (the loop ends) or cancelled
          const size_t i = static_cast<size_t>(next_url.fetch_add(1)) % urls.size();
          const auto sent_at = Steady::now();
          absl::StatusOr<agent::HttpResponse> response = http->Get(urls[i], {});
          const auto received_at = Steady::now();
          const TimePoint now = clock->Now();

          agent::UpstreamObservation observation;
          observation.route = scenario.route;
          observation.status = response.ok() ? response->status : 0;
          if (response.ok()) observation.headers = response->headers;
          observation.observed_at = now;
          observation.lease_id = permit->lease_id;
          observation.sent_at = sent_at;
          observation.received_at = received_at;
          gate->Report(std::move(observation));

          mine.push_back(CallRecord{std::chrono::duration<double>(sent_at - start).count(),
                                    response.ok() ? response->status : 0, address});
        }
        std::lock_guard<std::mutex> lock(records_mu);
        records.insert(records.end(), mine.begin(), mine.end());
      });
    }
  }
  for (auto& t : threads) t.join();
  stranded.Stop();
  const auto stopped = Steady::now();

  // Gates hand back unspent tokens and flush their observations.
  agent::CoordinatorRateGate::Stats gate_totals;
  for (auto& rig : agents) {
    rig.gate->Shutdown();
    agent::CoordinatorRateGate::Stats s = rig.gate->stats();
    gate_totals.lease_calls += s.lease_calls;
    gate_totals.lease_refusals += s.lease_refusals;
    gate_totals.lease_errors += s.lease_errors;
    gate_totals.revocations += s.revocations;
    gate_totals.observations_sent += s.observations_sent;
    gate_totals.observations_dropped += s.observations_dropped;
    gate_totals.observations_rejected += s.observations_rejected;
    gate_totals.report_errors += s.report_errors;
    gate_totals.tokens_returned += s.tokens_returned;
  }
  std::vector<throttle::BudgetInfo> budgets = coordinator.throttler()->ListBudgets();
  const nlohmann::json stats = sim.Stats();
  const std::string load_after = LoadAverage();
  agents.clear();
  coordinator.Shutdown(std::chrono::seconds(2));
  sim.Stop();

  Result r;
  r.scenario = scenario.name;
  r.duration_s = scenario.duration_s;
  r.calls = static_cast<int64_t>(records.size());
  for (const CallRecord& c : records) r.client_statuses[c.status]++;
  r.transport_errors = r.client_statuses.count(0) ? r.client_statuses[0] : 0;
  for (const auto& [status, n] : stats["responses_by_status"].items()) {
    r.sim_statuses[status] = n.get<int64_t>();
  }
  r.violations = stats["violations"]["total"].get<int64_t>();
  r.violation_detail = stats["violations"];
  for (const char* s : {"429", "420"}) {
    if (r.sim_statuses.count(s)) r.throttled += r.sim_statuses[s];
  }
  std::string binding;
  if (!scenario.addresses.empty()) {
    PermittedEgress(scenario, stats, records, &r);
    stranded.Fill(&r);
    const auto& g = scenario.sim.esi_groups.front();
    binding = absl::StrCat("group ", g.name, "=", sim::FormatEsiLimit(g), " per address");
  } else if (scenario.esi) {
    PermittedEsi(scenario.sim, &r);
    const auto& g = scenario.sim.esi_groups.front();
    binding = absl::StrCat("group ", g.name, "=", sim::FormatEsiLimit(g));
  } else {
    PermittedPoe(scenario.sim, &r, &binding);
    binding = absl::StrCat("tier ", binding);
  }
  r.utilisation = r.permitted > 0 ? static_cast<double>(r.achieved) / r.permitted : 0;

  // Report.
  std::vector<std::string> client_statuses, sim_statuses;
  for (const auto& [s, n] : r.client_statuses) {
    client_statuses.push_back(
        absl::StrCat(s == 0 ? std::string("transport") : std::to_string(s), "=", n));
  }
  for (const auto& [s, n] : r.sim_statuses) sim_statuses.push_back(absl::StrCat(s, "=", n));
  const char* unit = scenario.esi ? "tokens" : "hits";
  std::printf("calls made          %lld in %.1f s (workers stopped %.2f s after the end)\n",
              static_cast<long long>(r.calls),
              std::chrono::duration<double>(stopped - start).count(),
              std::chrono::duration<double>(stopped - end).count());
  std::printf("statuses (client)   %s\n", absl::StrJoin(client_statuses, " ").c_str());
  std::printf("statuses (sim)      %s\n", absl::StrJoin(sim_statuses, " ").c_str());
  std::printf("binding limit       %s\n", binding.c_str());
  std::printf("permitted           %lld %s = %lld calls\n", static_cast<long long>(r.permitted),
              unit, static_cast<long long>(r.permitted_calls));
  std::printf("achieved            %lld %s = %lld calls\n", static_cast<long long>(r.achieved),
              unit, static_cast<long long>(r.achieved_calls));
  std::printf(
      "utilisation         %.4f (%s; calls: %.4f)   goal >= 0.97\n", r.utilisation, unit,
      r.permitted_calls > 0 ? static_cast<double>(r.achieved_calls) / r.permitted_calls : 0.0);
  bench::ReportViolations(stats);
  std::printf("429/420 responses   %lld\n", static_cast<long long>(r.throttled));
  std::printf("calls per 1s        %s\n",
              Timeline(records, r.duration_s, 1, [](int) { return 1; }).c_str());
  for (const AddressResult& a : r.addresses) {
    std::printf(
        "address %-11s permitted %lld calls, achieved %lld (2xx; simulator counted %lld "
        "requests, %lld of them sent after the end), ratio %.4f; 2xx per window %s\n",
        a.address.c_str(), static_cast<long long>(a.permitted_calls),
        static_cast<long long>(a.achieved_calls), static_cast<long long>(a.sim_requests),
        static_cast<long long>(a.late_calls),
        a.permitted_calls > 0 ? static_cast<double>(a.achieved_calls) / a.permitted_calls : 0.0,
        a.per_window.c_str());
    if (FLAGS_egress_sample_ms > 0) {
      std::printf(
          "  stranded          %.2f s with upstream room the throttler held as spent "
          "(nothing in flight), at most %lld tokens\n",
          a.stranded_s, static_cast<long long>(a.stranded_max));
    }
  }
  if (scenario.esi) {
    const auto& g = scenario.sim.esi_groups.front();
    std::printf("tokens per %ds      %s\n", g.window_seconds,
                Timeline(records, r.duration_s, g.window_seconds, [&](int status) {
                  return (status == 0 || status == 429 || status == 420)
                             ? 0
                             : scenario.sim.esi_costs.ForStatus(status);
                }).c_str());
    std::printf("error limit         %s, errors answered %lld\n",
                stats["esi"]["error_limit"].dump().c_str(),
                static_cast<long long>(stats["errors"].get<int64_t>()));
  } else {
    for (const sim::PoeTier& t : scenario.sim.poe_stash_rules.front().tiers) {
      std::printf("hits per %ds%s  %s\n", t.period_seconds,
                  t.period_seconds < 100 ? "     " : "    ",
                  Timeline(records, r.duration_s, t.period_seconds, [](int status) {
                    return status == 429 ? 0 : 1;
                  }).c_str());
    }
  }
  std::printf(
      "gates               lease calls %lld, refusals %lld, errors %lld, revocations "
      "%lld, observations sent %lld (dropped %lld, rejected %lld), report errors %lld, "
      "tokens returned %lld\n",
      static_cast<long long>(gate_totals.lease_calls),
      static_cast<long long>(gate_totals.lease_refusals),
      static_cast<long long>(gate_totals.lease_errors),
      static_cast<long long>(gate_totals.revocations),
      static_cast<long long>(gate_totals.observations_sent),
      static_cast<long long>(gate_totals.observations_dropped),
      static_cast<long long>(gate_totals.observations_rejected),
      static_cast<long long>(gate_totals.report_errors),
      static_cast<long long>(gate_totals.tokens_returned));
  for (const throttle::BudgetInfo& b : budgets) {
    std::printf(
        "budget %-28s %s %lld/%.0fs, granted %lld, denied %lld, restrictions %lld\n",
        b.name.c_str(), b.learned ? "learned" : "default", static_cast<long long>(b.window.limit),
        std::chrono::duration<double>(b.window.period).count(),
        static_cast<long long>(b.counters.granted), static_cast<long long>(b.counters.denied),
        static_cast<long long>(b.counters.restrictions));
  }
  std::printf("load average        before %s, after %s\n", load_before.c_str(), load_after.c_str());
  std::fflush(stdout);
  return r;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  InitProcess(&argc, &argv, "throttler budget utilisation benchmark", {{"dsn", "SLUICE_DSN"}});
  if (FLAGS_dsn.empty()) {
    std::fprintf(stderr, "set --dsn or SLUICE_DSN (scripts/pg_throwaway.sh start)\n");
    return 2;
  }
  const std::string& which = FLAGS_scenario;
  if (which != "esi" && which != "poe" && which != "both" && which != "egress" && which != "all") {
    std::fprintf(stderr, "--scenario must be esi, poe, both, egress or all\n");
    return 2;
  }
  if (FLAGS_duration_s < 1 || FLAGS_egress_duration_s < 1 || FLAGS_rounds < 1 || FLAGS_agents < 1 ||
      FLAGS_workers < 1) {
    std::fprintf(stderr,
                 "--duration_s, --egress_duration_s, --rounds, --agents and --workers "
                 "must be >= 1\n");
    return 2;
  }
  const bool run_esi = which == "esi" || which == "both" || which == "all";
  const bool run_poe = which == "poe" || which == "both" || which == "all";
  const bool run_egress = which == "egress" || which == "all";

  std::vector<Scenario> scenarios;
  // Keep-alive connections each hold a simulator thread: one per worker, plus
  // room for the control surface.
  const int sim_threads = FLAGS_agents * FLAGS_workers + 8;
  if (run_esi) {
    absl::StatusOr<std::vector<sim::EsiGroupLimit>> groups =
        sim::ParseEsiGroups(absl::StrCat("character=", FLAGS_esi_limit));
    if (!groups.ok()) {
      std::fprintf(stderr, "--esi_limit: %s\n", std::string(groups.status().message()).c_str());
      return 2;
    }
    Scenario s;
    s.name = "esi";
    s.duration_s = FLAGS_duration_s;
    s.sim.threads = sim_threads;
    s.sim.esi_groups = *groups;
    s.sim.esi_error_limit = FLAGS_esi_error_limit;
    s.sim.esi_error_window_seconds = FLAGS_esi_error_window_s;
    s.sim.poe_stash_rules.clear();
    s.sim.poe_exchange_rules.clear();
    s.sim.faults.fault_5xx_rate = FLAGS_esi_5xx_rate;
    s.route = agent::Route{"esi", "/characters/{id}/", /*caller=*/""};
    scenarios.push_back(std::move(s));
  }
  if (run_poe) {
    absl::StatusOr<std::vector<sim::PoeRule>> rules =
        sim::ParsePoeRules(absl::StrCat("Ip=", FLAGS_poe_rule));
    if (!rules.ok()) {
      std::fprintf(stderr, "--poe_rule: %s\n", std::string(rules.status().message()).c_str());
      return 2;
    }
    Scenario s;
    s.name = "poe";
    s.esi = false;
    s.duration_s = FLAGS_duration_s;
    s.sim.threads = sim_threads;
    s.sim.esi_groups.clear();
    s.sim.poe_stash_rules = *rules;
    s.sim.poe_exchange_rules.clear();
    s.route = agent::Route{"poe", "/public-stash-tabs", /*caller=*/""};
    scenarios.push_back(std::move(s));
  }
  if (run_egress) {
    absl::StatusOr<std::vector<sim::EsiGroupLimit>> groups =
        sim::ParseEsiGroups(absl::StrCat("character=", FLAGS_egress_limit));
    if (!groups.ok()) {
      std::fprintf(stderr, "--egress_limit: %s\n", std::string(groups.status().message()).c_str());
      return 2;
    }
    for (absl::string_view part : absl::StrSplit(FLAGS_egresses, ',', absl::SkipEmpty())) {
      int count = 0;
      if (!absl::SimpleAtoi(part, &count) || count < 1 || count > 250 || count > FLAGS_agents) {
        std::fprintf(stderr, "--egresses: '%s' must be 1..min(250, --agents)\n",
                     std::string(part).c_str());
        return 2;
      }
      Scenario s;
      s.name = absl::StrCat("egress-", count);
      s.duration_s = FLAGS_egress_duration_s;
      s.sim.threads = sim_threads;
      s.sim.esi_groups = *groups;
      s.sim.poe_stash_rules.clear();
      s.sim.poe_exchange_rules.clear();
      s.route = agent::Route{"esi", "/characters/{id}/", /*caller=*/""};
      for (int i = 0; i < count; ++i) s.addresses.push_back(absl::StrCat("127.0.0.", 2 + i));
      scenarios.push_back(std::move(s));
    }
  }
  for (const Scenario& s : scenarios) {
    if (absl::Status v = sim::ValidateConfig(s.sim); !v.ok()) {
      std::fprintf(stderr, "simulator config for %s: %s\n", s.name.c_str(),
                   std::string(v.message()).c_str());
      return 2;
    }
  }

  std::printf(
      "throttle_utilization_bench: scenario=%s duration_s=%d rounds=%d agents=%d "
      "workers=%d esi_limit=%s esi_5xx_rate=%.3f esi_error_limit=%d/%ds poe_rule=%s "
      "egresses=%s egress_limit=%s egress_duration_s=%d; %u hardware threads shared by "
      "the simulator, the coordinator and the agents\n",
      FLAGS_scenario.c_str(), FLAGS_duration_s, FLAGS_rounds, FLAGS_agents, FLAGS_workers,
      FLAGS_esi_limit.c_str(), FLAGS_esi_5xx_rate, FLAGS_esi_error_limit, FLAGS_esi_error_window_s,
      FLAGS_poe_rule.c_str(), FLAGS_egresses.c_str(), FLAGS_egress_limit.c_str(),
      FLAGS_egress_duration_s, std::thread::hardware_concurrency());

  std::map<std::string, std::vector<Result>> results;
  int64_t violations = 0;
  for (int round = 0; round < FLAGS_rounds; ++round) {
    for (const Scenario& s : scenarios) {
      absl::StatusOr<Result> r = RunScenario(s, round);
      if (!r.ok()) {
        std::fprintf(stderr, "%s: setup failed: %s\n", s.name.c_str(),
                     r.status().ToString().c_str());
        return 1;
      }
      violations += r->violations;
      results[s.name].push_back(*r);
    }
  }

  std::printf(
      "\n== summary (goal: utilisation >= 0.97, egress >= 0.98 per address, "
      "violations 0)\n");
  std::printf("%-9s %6s %12s %12s %10s %11s %8s\n", "scenario", "rounds", "utilisation",
              "calls_ratio", "violations", "429_or_420", "calls");
  for (const auto& [name, rs] : results) {
    std::vector<double> util, ratio, viol, thr, calls;
    for (const Result& r : rs) {
      util.push_back(r.utilisation);
      ratio.push_back(
          r.permitted_calls > 0 ? static_cast<double>(r.achieved_calls) / r.permitted_calls : 0.0);
      viol.push_back(static_cast<double>(r.violations));
      thr.push_back(static_cast<double>(r.throttled));
      calls.push_back(static_cast<double>(r.calls));
    }
    std::printf("%-9s %6zu %12.4f %12.4f %10.1f %11.1f %8.0f%s\n", name.c_str(), rs.size(),
                Median(util), Median(ratio), Median(viol), Median(thr), Median(calls),
                rs.size() > 1 ? "  (medians)" : "");
    // Egress: each address's own ratio (the last round's).
    for (const AddressResult& a : rs.back().addresses) {
      std::printf(
          "  %-13s permitted %6lld calls, achieved %6lld, ratio %.4f\n", a.address.c_str(),
          static_cast<long long>(a.permitted_calls), static_cast<long long>(a.achieved_calls),
          a.permitted_calls > 0 ? static_cast<double>(a.achieved_calls) / a.permitted_calls : 0.0);
    }
  }
  if (violations > 0) {
    std::printf("\n!! %lld UPSTREAM LIMIT VIOLATION(S) over all runs: exiting 1\n",
                static_cast<long long>(violations));
    return 1;
  }
  return 0;
}
