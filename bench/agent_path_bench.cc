// The agent's own task path against the queue's batched path, on one
// in-process coordinator and PostgreSQL:
//
//   reference   --clients threads lease --batch tasks (LeaseTasks) and report
//               each leased batch with one CompleteTasks call: the batched
//               path of queue_throughput_bench (--batch_complete).
//   agent path  --agents real agents (BuildAgent: the leaser and its
//               TaskQueue, --workers workers, the CompletionCoalescer, the
//               coordinator rate gate) serving the "character" kind with a
//               handler that makes no upstream call and completes each task
//               at once, so what is measured is the agent's machinery.
//
// Both complete every task with the same thing: one character record (as
// queue_throughput_bench does), or nothing with --records=false. The queue
// slows as dead tuples accumulate, so every leg starts on emptied
// (truncated) tables, as on a fresh queue, and rounds alternate which path
// goes first. Prints tasks/s of each, their medians and the ratio; asserts
// nothing.
//
//   bench/agent_path_bench [--dsn=...] [--tasks=20000] [--rounds=3] [--agents=2]
//                          [--workers=100] [--max_tasks=0] [--complete_coalesce_ms=5]
//                          [--paths=both]
#include <gflags/gflags.h>
#include <glog/logging.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>
#include <vector>

#include "agent/agent_builder.h"
#include "agent/handlers/handler.h"
#include "agent/handlers/handler_registry.h"
#include "bench/bench_util.h"
#include "common/env_flags.h"
#include "common/grpc_security.h"
#include "common/time_util.h"
#include "server/coordinator.h"
#include "sluice/v1/admin.grpc.pb.h"
#include "sluice/v1/agent.grpc.pb.h"

DEFINE_string(dsn, "",
              "PostgreSQL DSN of a scratch database (emptied before each leg); empty = a new "
              "database on SLUICE_PG_ADMIN_DSN");
DEFINE_int32(tasks, 20000, "tasks per path per round");
DEFINE_int32(rounds, 3, "rounds; medians are reported");
DEFINE_bool(records, true, "complete each task with a character record; false: with none");
DEFINE_int32(clients, 32, "reference: concurrent client threads");
DEFINE_int32(batch, 100, "reference: tasks per LeaseTasks and CompleteTasks call");
DEFINE_int32(agents, 2, "agent path: agents in this process");
// Workers hand their completions to the agent's coalescer and go on
// (agent/core/completion_coalescer.h), so batches no longer need as many
// workers as --complete_batch_max.
DEFINE_int32(workers, 100, "agent path: workers per agent");
// The agent's own default: 0, adaptive (agent/core/lease_sizer.h).
DEFINE_int32(max_tasks, 0, "agent path: tasks per LeaseTasks call; 0 = adaptive (the agent's)");
DEFINE_int32(complete_batch_max, 300, "agent path: completions per CompleteTasks call");
// The agent's default: 5 ms (agent/core/agent.h says why).
DEFINE_int32(complete_coalesce_ms, 5,
             "agent path: coalescing wait; 0 = CompleteTask per task (the agent's default: 5)");
DEFINE_int32(timeout_s, 300, "give up a path's round after this long");
DEFINE_string(paths, "both", "which paths run: both, agent or reference (to profile one)");

namespace {

using namespace sluice;
using std::chrono::milliseconds;
using std::chrono::seconds;

// What either path completes a task with.
void FillCompletion(int64_t entity_id, v1::CompleteTaskRequest* c) {
  if (!FLAGS_records) return;
  auto* ch = c->add_records()->mutable_character();
  ch->set_character_id(entity_id);
  ch->set_name("Pilot " + std::to_string(entity_id));
  ch->set_corporation_id(98000001);
  ch->set_security_status(0.5);
}

// Completes a task without an upstream call: the agent's machinery alone.
class NoUpstreamHandler final : public agent::MultiRequestHandler {
 public:
  absl::StatusOr<agent::HandlerResult> Run(const v1::Task& task, agent::Fetcher&) const override {
    agent::HandlerResult out;
    v1::CompleteTaskRequest c;
    FillCompletion(task.entity_id(), &c);
    out.records.assign(c.records().begin(), c.records().end());
    return out;
  }
};

void Enqueue(v1::AdminService::Stub* admin, const ClientOptions& opts, int64_t base) {
  for (int i = 0; i < FLAGS_tasks; i += 10000) {
    v1::EnqueueRequest req;
    req.set_kind("character");
    req.set_priority(v1::PRIORITY_CLASS_MANUAL);
    for (int j = i; j < std::min(FLAGS_tasks, i + 10000); ++j) req.add_ids(base + j);
    v1::EnqueueResponse resp;
    grpc::ClientContext ctx;
    PrepareContext(&ctx, opts, seconds(60));
    grpc::Status s = admin->Enqueue(&ctx, req, &resp);
    CHECK(s.ok()) << s.error_message();
  }
}

double Rate(int done, std::chrono::steady_clock::time_point start) {
  return done / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// queue_throughput_bench --batch_complete's loop. *completions_per_call as
// RunAgents'.
double RunReference(v1::AgentService::Stub* agent, const ClientOptions& opts,
                    double* completions_per_call) {
  std::atomic<int> done{0}, failed{0}, calls{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < FLAGS_clients; ++c) {
    threads.emplace_back([&, c] {
      while (done.load() + failed.load() < FLAGS_tasks) {
        v1::LeaseTasksRequest lr;
        lr.set_agent_id("bench-" + std::to_string(c));
        lr.add_kinds("character");
        lr.set_max_tasks(FLAGS_batch);
        *lr.mutable_lease_duration() = ToProtoDuration(seconds(60));
        v1::LeaseTasksResponse leased;
        grpc::ClientContext lctx;
        PrepareContext(&lctx, opts, seconds(30));
        grpc::Status s = agent->LeaseTasks(&lctx, lr, &leased);
        CHECK(s.ok()) << s.error_message();
        if (leased.tasks().empty()) return;
        v1::CompleteTasksRequest many;
        for (const auto& t : leased.tasks()) {
          v1::CompleteTaskRequest& cr = *many.add_completions();
          cr.set_task_id(t.task_id());
          cr.set_fencing_token(t.fencing_token());
          cr.set_agent_id(lr.agent_id());
          FillCompletion(t.entity_id(), &cr);
        }
        v1::CompleteTasksResponse resp;
        grpc::ClientContext cctx;
        PrepareContext(&cctx, opts, seconds(60));
        s = agent->CompleteTasks(&cctx, many, &resp);
        CHECK(s.ok()) << s.error_message();
        ++calls;
        for (const auto& r : resp.results()) {
          if (r.code() == 0) {
            ++done;
          } else {
            ++failed;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double rate = Rate(done.load(), start);
  CHECK_EQ(failed.load(), 0);
  *completions_per_call = calls > 0 ? static_cast<double>(done.load()) / calls : 0;
  return rate;
}

// *completions_per_call: how many completions each CompleteTasks carried.
double RunAgents(const std::string& coordinator, double* completions_per_call) {
  agent::HandlerRegistry registry;
  registry.Register(agent::HandlerSpec{
      "character", agent::Route{"esi", "/characters/{id}/", ""}, nullptr,
      [](const agent::HandlerConfig&) { return std::make_unique<NoUpstreamHandler>(); }});
  std::vector<std::unique_ptr<agent::Agent>> agents;
  for (int a = 0; a < FLAGS_agents; ++a) {
    agent::AgentConfig config;
    config.coordinator = coordinator;
    config.contact = "bench@sluice.invalid";
    config.egress = "127.0.0.1";
    config.agent.agent_id = "bench-agent-" + std::to_string(a);
    config.agent.workers = FLAGS_workers;
    config.agent.max_tasks = FLAGS_max_tasks;
    config.agent.lease_wait = milliseconds(200);
    config.agent.complete_batch_max = FLAGS_complete_batch_max;
    config.agent.complete_coalesce = milliseconds(FLAGS_complete_coalesce_ms);
    config.agent.log_interval = Duration::zero();
    auto built = agent::BuildAgent(std::move(config), registry);
    CHECK(built.ok()) << built.status();
    agents.push_back(std::move(*built));
  }
  auto settled = [&] {
    int64_t n = 0;
    for (const auto& a : agents) {
      const agent::AgentStats s = a->stats();
      n += s.tasks_done + s.leases_lost + s.report_errors + s.tasks_failed;
    }
    return n;
  };
  const auto start = std::chrono::steady_clock::now();
  for (auto& a : agents) bench::CheckOk(a->Start(), "agent");
  while (settled() < FLAGS_tasks) {
    CHECK(std::chrono::steady_clock::now() - start < seconds(FLAGS_timeout_s))
        << "agent path timed out at " << settled() << " of " << FLAGS_tasks << " tasks";
    std::this_thread::sleep_for(milliseconds(1));
  }
  int64_t done = 0, calls = 0, lost = 0, errors = 0;
  for (const auto& a : agents) {
    const agent::AgentStats s = a->stats();
    done += s.tasks_done;
    calls += s.complete_calls;
    lost += s.leases_lost;
    errors += s.report_errors + s.tasks_failed;
  }
  const double rate = Rate(static_cast<int>(done), start);
  for (auto& a : agents) a->Stop();
  CHECK_EQ(lost + errors, 0) << lost << " leases lost, " << errors << " failures";
  *completions_per_call = calls > 0 ? static_cast<double>(done) / calls : 0;
  return rate;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  InitProcess(&argc, &argv, "agent task path vs the queue's batched path, tasks/s",
              {{"dsn", "SLUICE_DSN"}});
  CHECK(FLAGS_paths == "both" || FLAGS_paths == "agent" || FLAGS_paths == "reference")
      << "--paths: both, agent or reference";
  auto db = bench::ScratchDatabase::Open(FLAGS_dsn, "sluice_agent_path_bench");
  CHECK(db.ok()) << db.status();
  Coordinator coordinator(bench::LocalCoordinatorOptions((*db)->dsn(), 16));
  bench::CheckOk(coordinator.Start(), "coordinator");
  ClientOptions opts;
  opts.target = "127.0.0.1:" + std::to_string(coordinator.port());
  auto channel = MakeChannel(opts);
  auto admin = v1::AdminService::NewStub(channel);
  auto stub = v1::AgentService::NewStub(channel);

  const std::string lease_batch =
      FLAGS_max_tasks > 0 ? std::to_string(FLAGS_max_tasks) : std::string("adaptive");
  std::printf("%d tasks per path per round, %s; load %s\n", FLAGS_tasks,
              FLAGS_records ? "one character record each" : "no record",
              bench::LoadAverage().c_str());
  std::vector<double> reference, agents;
  int64_t base = 100'000'000;
  for (int r = 0; r < FLAGS_rounds; ++r) {
    for (int leg = 0; leg < 2; ++leg) {
      const bool agent_leg = (leg + r) % 2 == 1;  // even rounds: reference first
      if (FLAGS_paths != "both" && (FLAGS_paths == "agent") != agent_leg) continue;
      // Opening the database by its DSN empties its tables again.
      auto emptied = bench::ScratchDatabase::Open((*db)->dsn(), "");
      CHECK(emptied.ok()) << emptied.status();
      Enqueue(admin.get(), opts, base);
      base += 100'000'000;
      double per_call = 0;
      const double rate =
          agent_leg ? RunAgents(opts.target, &per_call) : RunReference(stub.get(), opts, &per_call);
      (agent_leg ? agents : reference).push_back(rate);
      std::printf("round %d %-10s %8.0f tasks/s (%.0f completions per call)\n", r + 1,
                  agent_leg ? "agent path" : "reference", rate, per_call);
      std::fflush(stdout);
    }
  }
  if (reference.empty() || agents.empty()) {
    coordinator.Shutdown(seconds(1));
    return 0;
  }
  const double ref = Median(reference), got = Median(agents);
  std::printf("reference  (%d clients, LeaseTasks + CompleteTasks of %d): %.0f tasks/s\n",
              FLAGS_clients, FLAGS_batch, ref);
  std::printf(
      "agent path (%d agents x %d workers, lease batch %s, coalesce %d ms, "
      "batch max %d): %.0f tasks/s\n",
      FLAGS_agents, FLAGS_workers, lease_batch.c_str(), FLAGS_complete_coalesce_ms,
      FLAGS_complete_batch_max, got);
  std::printf("ratio agent path / reference: %.2f (median of %d round(s))\n", got / ref,
              FLAGS_rounds);
  coordinator.Shutdown(seconds(1));
  return 0;
}
